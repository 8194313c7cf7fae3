/* Registering another institution's certificate (/certificates/other/certificate/): pick a certificate
 * kept in this browser or load the two files, open the private key with the certificate password here,
 * sign the text the page issued and post the certificate, the signature and the identity random value
 * kept in the key file (so the bank can check the certificate's identity hash against the customer's
 * number). The password and the private key never leave the browser.
 * Uses window.BankPki (static/js/pki.js), window.CertChooser (cert-chooser.js) and window.CertPage
 * (certcenter-common.js). */
(function () {
  "use strict";

  var root = document.getElementById("external-certificate");
  if (!root) {
    return;
  }
  var texts = JSON.parse(document.getElementById("external-messages").textContent);
  var form = document.getElementById("external-form");
  var statusBox = document.getElementById("external-status");
  var password = document.getElementById("certificate-password");
  var submit = document.getElementById("external-submit");
  var receipt = document.getElementById("external-receipt");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var Pki = window.BankPki;
  var chooser = window.CertChooser.attach({ password: password, texts: texts });

  function show(message, kind) {
    window.CertPage.show(statusBox, message, kind);
  }

  function supported() {
    return Boolean(window.CertPage) && window.CertPage.supported();
  }

  function fail(code) {
    var error = new Error(code);
    error.code = code;
    return error;
  }

  function showReceipt(registered) {
    document.getElementById("receipt-issuer").textContent = registered.issuer;
    document.getElementById("receipt-subject").textContent = registered.subject;
    document.getElementById("receipt-serial").textContent = registered.serial;
    document.getElementById("receipt-expiry").textContent = registered.not_after_display;
    document.getElementById("receipt-identity").textContent = registered.identity;
    form.hidden = true;
    receipt.hidden = false;
    document.getElementById("external-receipt-title").focus();
  }

  function register(event) {
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
    show(texts.working, "info");
    var material;
    var identityRandom;
    chooser
      .open()
      .then(function (chosen) {
        material = chosen;
        var opened = chosen.opened;
        // Ours: R (ARC.2.2); a KISA randomNum where pki.js reads it (kisaRandom). Only the value, never the key.
        identityRandom = opened.identityRandom || opened.kisaRandom || null;
        return Pki.sign(opened.key, texts.text);
      })
      .then(function (signature) {
        var body = {
          certificate: Pki.b64encode(material.certificate),
          signature: Pki.b64encode(signature),
        };
        if (identityRandom) {
          body.identity_random = Pki.b64encode(identityRandom);
        }
        return window.CertPage.postJson(root.dataset.requestUrl, csrf, body, texts.network);
      })
      .then(function (answer) {
        if (!answer.ok) {
          throw fail("server:" + (answer.data.message || ""));
        }
        password.value = "";
        show("");
        showReceipt(answer.data);
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
  form.addEventListener("submit", register);
})();
