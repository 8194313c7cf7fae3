/* Certificate login page (/certificates/login/): pick a certificate kept in this browser or load the
 * two files, decrypt the private key with the certificate password here, sign the server's nonce and
 * post the signature. The password and the private key never leave the browser.
 * Uses window.BankPki (static/js/pki.js), window.CertChooser (cert-chooser.js) and window.CertPage. */
(function () {
  "use strict";

  var root = document.getElementById("certificate-login");
  if (!root) {
    return;
  }
  var texts = JSON.parse(document.getElementById("login-messages").textContent);
  var form = document.getElementById("certificate-login-form");
  var statusBox = document.getElementById("login-status");
  var password = document.getElementById("certificate-password");
  var submit = document.getElementById("certificate-login-submit");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var Pki = window.BankPki;
  var chooser = window.CertChooser.attach({ password: password, texts: texts });

  function show(message, kind) {
    window.CertPage.show(statusBox, message, kind);
  }

  function supported() {
    return Boolean(window.CertPage) && window.CertPage.supported();
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(
        function (data) {
          return { ok: response.ok, data: data };
        },
        function () {
          return { ok: false, data: { message: texts.network } };
        }
      );
    });
  }

  function fail(code) {
    var error = new Error(code);
    error.code = code;
    return error;
  }

  function login(event) {
    event.preventDefault();
    if (!supported()) {
      show(texts.no_support);
      return;
    }
    if (!password.value) {
      show(texts.enter_password);
      password.focus();
      return;
    }
    submit.disabled = true;
    show(texts.signing_in, "info");
    var material;
    var privateKey;
    chooser
      .open()
      .then(function (chosen) {
        material = chosen;
        privateKey = chosen.opened.key;
        return postJson(root.dataset.challengeUrl);
      })
      .then(function (answer) {
        if (!answer.ok) {
          throw fail("server:" + answer.data.message);
        }
        var nonce = answer.data.nonce;
        return Pki.sign(privateKey, nonce).then(function (signature) {
          return postJson(root.dataset.loginUrl, {
            nonce: nonce,
            certificate: Pki.b64encode(material.certificate),
            signature: Pki.b64encode(signature),
          });
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          throw fail("server:" + answer.data.message);
        }
        password.value = "";
        window.location.assign(answer.data.redirect);
      })
      .catch(function (error) {
        chooser.report(error, show, texts.network);
        submit.disabled = false;
      });
  }

  if (!supported()) {
    show(texts.no_support);
    submit.disabled = true;
    return;
  }
  chooser.refresh();
  form.addEventListener("submit", login);
})();
