/* Sign a text the page shows with a joint certificate, in the browser: pick a certificate kept in this
 * browser or load the two files, open the private key with the certificate password here, sign the text
 * (RSASSA-PKCS1-v1_5, SHA-256, over its UTF-8 bytes) and post the certificate and signature with the page's
 * form (hidden inputs "certificate" and "signature", base64). The password and the private key never leave
 * the browser. Used by the online release (release-sign.js) and the transfer (transfer-sign.js), which
 * call window.SignText.attach with their element ids. Uses window.BankPki (static/js/pki.js) and, for
 * picking and opening the certificate, window.CertChooser (static/js/cert-chooser.js). */
(function () {
  "use strict";

  /* options: root, text, messages, form, submit (element ids, required); status, list, certFile, keyFile,
   * password (ids, defaulting to the shared markup: sign-status, stored-list, cert-file, key-file,
   * certificate-password); check(texts, form): optional, called before signing, returns
   * {message, focus} to stop with a message, or null to go on. */
  function attach(options) {
    var root = document.getElementById(options.root);
    var form = document.getElementById(options.form);
    if (!root || !form) {
      return;
    }
    var byId = function (name, fallback) {
      return document.getElementById(options[name] || fallback);
    };
    var texts = JSON.parse(document.getElementById(options.messages).textContent);
    var signedText = JSON.parse(document.getElementById(options.text).textContent);
    var statusBox = byId("status", "sign-status");
    var listBox = byId("list", "stored-list");
    var password = byId("password", "certificate-password");
    var submit = document.getElementById(options.submit);
    var certificateField = form.querySelector("input[name=certificate]");
    var signatureField = form.querySelector("input[name=signature]");
    var Pki = window.BankPki;
    var chooser = window.CertChooser.attach({
      list: listBox,
      certFile: byId("certFile", "cert-file"),
      keyFile: byId("keyFile", "key-file"),
      password: password,
      texts: texts,
    });

    function show(message, kind) {
      statusBox.hidden = !message;
      statusBox.textContent = message || "";
      statusBox.className = kind === "info" ? "info-box" : "form-errors";
      statusBox.setAttribute("role", kind === "info" ? "status" : "alert");
    }

    function supported() {
      return Boolean(Pki && window.crypto && window.crypto.subtle && window.indexedDB);
    }

    function sign(event) {
      event.preventDefault();
      if (submit.disabled) {
        return; // a second click while the first one signs or posts
      }
      if (!supported()) {
        show(texts.no_support);
        return;
      }
      var problem = options.check ? options.check(texts, form) : null;
      if (problem) {
        show(problem.message);
        if (problem.focus) {
          problem.focus.focus();
        }
        return;
      }
      if (!password.value) {
        show(texts.enter_password);
        password.focus();
        return;
      }
      submit.disabled = true;
      show(texts.working, "info");
      var material;
      chooser
        .open()
        .then(function (chosen) {
          material = chosen;
          return Pki.sign(chosen.opened.key, signedText);
        })
        .then(function (signature) {
          certificateField.value = Pki.b64encode(new Uint8Array(material.certificate));
          signatureField.value = Pki.b64encode(signature);
          password.value = "";
          // The stored-certificate choice is not the server's business.
          listBox.querySelectorAll("input[name=stored]").forEach(function (input) {
            input.disabled = true;
          });
          form.submit(); // a normal post: the server answers with the next page
        })
        .catch(function (error) {
          chooser.report(error, show, texts.choose);
          submit.disabled = false;
        });
    }

    if (!supported()) {
      show(texts.no_support);
      submit.disabled = true;
      return;
    }
    chooser.refresh();
    form.addEventListener("submit", sign);
    // Back to this page from the next one (the browser's page cache): the form can be used again.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        submit.disabled = false;
        listBox.querySelectorAll("input[name=stored]").forEach(function (input) {
          input.disabled = false;
        });
        show("");
      }
    });
  }

  window.SignText = { attach: attach };
})();
