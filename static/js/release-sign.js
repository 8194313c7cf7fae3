/* Signing step of the online release (/security/release/sign/): the release text the page shows, signed
 * with a joint certificate in this browser by the shared script (static/js/sign-text.js, loaded first). */
(function () {
  "use strict";

  if (!window.SignText) {
    return;
  }
  window.SignText.attach({
    root: "release-sign",
    text: "release-sign-text",
    messages: "release-sign-messages",
    form: "release-sign-form",
    submit: "release-sign-submit",
  });
})();
