/* Shared by the certificate-centre page scripts (issue, login, my certificates): status messages,
 * browser support, the certificate password check, JSON posts with the CSRF header, and keeping a
 * new certificate in this browser or as the two files. Uses only window.BankPki (static/js/pki.js). */
(function () {
  "use strict";

  var Pki = window.BankPki;

  function show(box, message, kind) {
    box.hidden = !message;
    box.textContent = message || "";
    box.className = kind === "info" ? "info-box" : "form-errors";
    box.setAttribute("role", kind === "info" ? "status" : "alert");
  }

  function supported() {
    return Boolean(Pki && window.crypto && window.crypto.subtle && window.indexedDB);
  }

  /* The page's message for a password that breaks the rule or differs from its confirmation; "" when fine. */
  function passwordMessage(texts, password, password2) {
    var problems = Pki.passwordProblems(password.value);
    if (problems.length) {
      return problems
        .map(function (code) {
          return texts["password_" + code] || code;
        })
        .join(" ");
    }
    if (password2 && password.value !== password2.value) {
      return texts.passwords_differ;
    }
    return "";
  }

  /* POST a JSON body; resolves to {ok, data}; an unreadable answer becomes {ok: false, data: {message}}. */
  function postJson(url, csrf, body, networkMessage) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(
        function (data) {
          return { ok: response.ok, data: data };
        },
        function () {
          return { ok: false, data: { message: networkMessage } };
        }
      );
    });
  }

  /* Keep a newly issued certificate where the customer chose; resolves to where it was kept. If this
   * browser cannot store it, it is downloaded instead (the key exists nowhere else: never lose it). */
  function keep(storage, issued, certificateDer, encryptedKey, onSaveFailed) {
    function download() {
      Pki.download(certificateDer, "signCert.der", "application/pkix-cert");
      Pki.download(encryptedKey, "signPri.key", "application/octet-stream");
    }
    if (storage !== "browser") {
      download();
      return Promise.resolve(storage);
    }
    return Pki.store
      .save({
        serial: issued.serial,
        certificateDer: certificateDer,
        encryptedKeyDer: encryptedKey,
        subject: issued.subject,
        notAfter: issued.not_after,
        kind: issued.kind,
      })
      .then(
        function () {
          return storage;
        },
        function () {
          onSaveFailed();
          download();
          return "file";
        }
      );
  }

  window.CertPage = {
    show: show,
    supported: supported,
    passwordMessage: passwordMessage,
    postJson: postJson,
    keep: keep,
  };
})();
