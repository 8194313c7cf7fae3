/* Confirmation step of a transfer (/banking/transfer/<key>/confirm/): the transfer's text, signed with a
 * joint certificate in this browser by the shared script (static/js/sign-text.js, loaded first), after a
 * check that the account password and the security medium's answer are filled in (the server checks them
 * before it sends anything). */
(function () {
  "use strict";

  if (!window.SignText) {
    return;
  }

  function check(texts, form) {
    var pin = form.querySelector("input[name=account_password]");
    if (pin && !/^[0-9]{4}$/.test(pin.value)) {
      return { message: texts.enter_account_password, focus: pin };
    }
    var answers = form.querySelectorAll("#medium-step input");
    for (var i = 0; i < answers.length; i++) {
      if (!answers[i].value.trim()) {
        return { message: texts.enter_medium, focus: answers[i] };
      }
    }
    return null;
  }

  window.SignText.attach({
    root: "transfer-sign",
    text: "transfer-sign-text",
    messages: "transfer-sign-messages",
    form: "transfer-confirm-form",
    submit: "transfer-sign-submit",
    check: check,
  });
})();
