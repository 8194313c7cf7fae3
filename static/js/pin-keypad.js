/* The financial certificate's on-screen PIN keypad (보안 키패드). Progressive enhancement only: without
 * this file the PIN is a plain 6-digit password field and every form still works.
 *
 * Markup (templates/certcenter/financial/_pin_keypad.html): a container [data-pin-keypad] holding the
 * <input> named by data-input, an empty [data-pin-dots] and an empty [data-pin-keys]. The digits are
 * laid out in a new random order each time the keypad is drawn (crypto.getRandomValues), so where a
 * click lands says nothing about the digit; the field itself stays typeable for keyboard users. */
(function () {
  "use strict";

  function shuffled(items) {
    var copy = items.slice();
    var random = new Uint32Array(copy.length);
    window.crypto.getRandomValues(random);
    for (var i = copy.length - 1; i > 0; i--) {
      var j = random[i] % (i + 1);
      var swap = copy[i];
      copy[i] = copy[j];
      copy[j] = swap;
    }
    return copy;
  }

  function button(label, className, onClick) {
    var key = document.createElement("button");
    key.type = "button";
    key.className = "pin-key " + className;
    key.textContent = label;
    key.addEventListener("click", onClick);
    return key;
  }

  function setUp(box) {
    var input = document.getElementById(box.getAttribute("data-input"));
    var dots = box.querySelector("[data-pin-dots]");
    var keys = box.querySelector("[data-pin-keys]");
    if (!input || !dots || !keys || !window.crypto || !window.crypto.getRandomValues) {
      return;
    }
    var length = parseInt(box.getAttribute("data-length"), 10) || 6;

    function showDots() {
      var filled = Math.min(input.value.length, length);
      dots.textContent = "";
      for (var i = 0; i < length; i++) {
        var dot = document.createElement("span");
        dot.className = i < filled ? "pin-dot is-filled" : "pin-dot";
        dots.appendChild(dot);
      }
      dots.setAttribute("aria-label", box.getAttribute("data-entered-text").replace("%(count)s", String(filled)));
    }

    function draw() {
      keys.textContent = "";
      var digits = shuffled(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
      digits.forEach(function (digit, index) {
        if (index === 9) {
          keys.appendChild(
            button(box.getAttribute("data-clear-text"), "pin-key-clear", function () {
              input.value = "";
              showDots();
            })
          );
        }
        keys.appendChild(
          button(digit, "pin-key-digit", function () {
            if (input.value.length < length) {
              input.value += digit;
              showDots();
              input.dispatchEvent(new Event("input", { bubbles: true }));
            }
          })
        );
      });
      keys.appendChild(
        button(box.getAttribute("data-back-text"), "pin-key-back", function () {
          input.value = input.value.slice(0, -1);
          showDots();
        })
      );
    }

    input.addEventListener("input", function () {
      input.value = input.value.replace(/[^0-9]/g, "").slice(0, length);
      showDots();
    });
    var form = input.form;
    if (form) {
      // A refused PIN comes back on a new page; a fresh layout every time the form is sent.
      form.addEventListener("submit", draw);
    }
    box.hidden = false;
    draw();
    showDots();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-pin-keypad]"), setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
