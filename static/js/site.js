/* Progressive enhancement only: every page works without this file.
 * Shows how long a signed-in session has left before the server ends it for inactivity. */
(function () {
  "use strict";

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function startSessionTimer(box) {
    var seconds = parseInt(box.getAttribute("data-seconds"), 10);
    var output = box.querySelector("[data-remaining]");
    if (!output || !(seconds > 0)) {
      return;
    }
    var deadline = Date.now() + seconds * 1000;
    box.hidden = false;

    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      output.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
      if (left === 0) {
        box.textContent = box.getAttribute("data-expired-text");
        box.classList.add("is-expired");
        return;
      }
      window.setTimeout(tick, 1000);
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
