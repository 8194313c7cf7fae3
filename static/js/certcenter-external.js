/* Registering another institution's certificate (/certificates/other/certificate/): pick a certificate
 * kept in this browser or load the two files, open the private key with the certificate password here,
 * sign the text the page issued and post the certificate, the signature and the identity random value
 * kept in the key file (so the bank can check the certificate's identity hash against the customer's
 * number). The password and the private key never leave the browser.
 * Uses window.BankPki (static/js/pki.js) and window.CertPage (certcenter-common.js). */
(function () {
  "use strict";

  var root = document.getElementById("external-certificate");
  if (!root) {
    return;
  }
  var texts = JSON.parse(document.getElementById("external-messages").textContent);
  var form = document.getElementById("external-form");
  var statusBox = document.getElementById("external-status");
  var listBox = document.getElementById("stored-list");
  var certFile = document.getElementById("cert-file");
  var keyFile = document.getElementById("key-file");
  var password = document.getElementById("certificate-password");
  var submit = document.getElementById("external-submit");
  var receipt = document.getElementById("external-receipt");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var Pki = window.BankPki;

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

  function readFile(input) {
    return new Promise(function (resolve, reject) {
      var file = input.files && input.files[0];
      if (!file) {
        resolve(null);
        return;
      }
      var reader = new FileReader();
      reader.onload = function () {
        resolve(new Uint8Array(reader.result));
      };
      reader.onerror = function () {
        reject(reader.error);
      };
      reader.readAsArrayBuffer(file);
    });
  }

  function renderList(records) {
    listBox.textContent = "";
    if (!records.length) {
      var none = document.createElement("p");
      none.className = "muted";
      none.id = "stored-none";
      none.textContent = texts.none_stored;
      listBox.appendChild(none);
      return;
    }
    records.forEach(function (record, index) {
      var row = document.createElement("p");
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "stored";
      input.value = record.serial;
      input.id = "stored-" + index;
      var label = document.createElement("label");
      label.htmlFor = input.id;
      var expiry = (record.notAfter || "").slice(0, 10);
      label.textContent = record.subject + " (" + texts.expires.replace("%(date)s", expiry) + ")";
      row.appendChild(input);
      row.appendChild(document.createTextNode(" "));
      row.appendChild(label);
      listBox.appendChild(row);
    });
  }

  function loadMaterial() {
    var checked = listBox.querySelector("input[name=stored]:checked");
    if (checked) {
      return Pki.store.get(checked.value).then(function (record) {
        if (!record) {
          throw fail("choose");
        }
        return { certificate: record.certificateDer, key: record.encryptedKeyDer };
      });
    }
    return Promise.all([readFile(certFile), readFile(keyFile)]).then(function (files) {
      if (!files[0] || !files[1]) {
        throw fail("choose");
      }
      try {
        Pki.parseCertificate(files[0]);
      } catch (e) {
        throw fail("bad_cert_file");
      }
      return { certificate: files[0], key: files[1] };
    });
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
    loadMaterial()
      .then(function (loaded) {
        material = loaded;
        return Pki.decryptPrivateKey(material.key, password.value);
      })
      .then(function (opened) {
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
        var code = (error && error.code) || "";
        if (code.indexOf("server:") === 0) {
          show(code.slice(7) || texts.network);
        } else if (texts[code]) {
          show(texts[code]);
          if (code === "wrong_password") {
            password.value = "";
            password.focus();
          }
        } else {
          show(texts.network);
        }
        submit.disabled = false;
      });
  }

  if (!supported()) {
    show(texts.no_support);
    submit.disabled = true;
    return;
  }
  Pki.store
    .list()
    .then(renderList)
    .catch(function () {
      renderList([]);
    });
  form.addEventListener("submit", register);
})();
