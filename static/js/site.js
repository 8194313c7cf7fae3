/* Progressive enhancement only: every page works without this file.
 * Shows how long a signed-in session has left before the server ends it for inactivity, warns in
 * the last minute and lets the user extend it (the server decides; this only shows it). */
(function () {
  "use strict";

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function startSessionTimer(box) {
    var seconds = parseInt(box.getAttribute("data-left"), 10);
    if (!(seconds >= 0)) {
      seconds = parseInt(box.getAttribute("data-seconds"), 10);
    }
    var warnAt = parseInt(box.getAttribute("data-warn-seconds"), 10) || 60;
    var output = box.querySelector("[data-remaining]");
    var warning = box.querySelector("[data-session-warning]");
    var form = box.querySelector("[data-session-extend]");
    if (!output || !(seconds > 0)) {
      return;
    }
    var deadline = Date.now() + seconds * 1000;
    var timer = null;
    box.hidden = false;

    function expire() {
      box.textContent = box.getAttribute("data-expired-text");
      box.classList.remove("is-warning");
      box.classList.add("is-expired");
      box.setAttribute("role", "alert");
    }

    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      output.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
      if (left === 0) {
        expire();
        return;
      }
      var warn = left <= warnAt;
      box.classList.toggle("is-warning", warn);
      if (warning) {
        var text = warn ? box.getAttribute("data-warning-text") : "";
        if (warning.textContent !== text) {
          warning.textContent = text;
        }
      }
      timer = window.setTimeout(tick, 1000);
    }

    if (form && window.fetch && window.FormData) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        window
          .fetch(form.action, {
            method: "POST",
            body: new window.FormData(form),
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          })
          .then(function (response) {
            if (response.status === 401) {
              window.clearTimeout(timer);
              expire();
              return null;
            }
            if (!response.ok) {
              throw new Error("extend failed");
            }
            return response.json();
          })
          .then(function (data) {
            if (data && data.seconds > 0) {
              deadline = Date.now() + data.seconds * 1000;
              window.clearTimeout(timer);
              tick();
            }
          })
          .catch(function () {
            form.submit(); // fall back to the plain form post
          });
      });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-session-timer]");
    for (var i = 0; i < boxes.length; i += 1) {
      startSessionTimer(boxes[i]);
    }
  });
})();
