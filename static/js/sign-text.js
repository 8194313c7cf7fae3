/* Sign a text the page shows with a joint certificate, in the browser: pick a certificate kept in this
 * browser or load the two files, open the private key with the certificate password here, sign the text
 * (RSASSA-PKCS1-v1_5, SHA-256, over its UTF-8 bytes) and post the certificate and signature with the page's
 * form (hidden inputs "certificate" and "signature", base64). The password and the private key never leave
 * the browser. Used by the online release (release-sign.js) and the transfer (transfer-sign.js), which
 * call window.SignText.attach with their element ids. Uses only window.BankPki (static/js/pki.js); the
 * certificate picking mirrors certcenter-login.js. */
(function () {
  "use strict";

  function fail(code) {
    var error = new Error(code);
    error.code = code;
    return error;
  }

  function readFile(input) {
    return new Promise(function (resolve, reject) {
      var file = input && input.files && input.files[0];
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
    var certFile = byId("certFile", "cert-file");
    var keyFile = byId("keyFile", "key-file");
    var password = byId("password", "certificate-password");
    var submit = document.getElementById(options.submit);
    var certificateField = form.querySelector("input[name=certificate]");
    var signatureField = form.querySelector("input[name=signature]");
    var Pki = window.BankPki;

    function show(message, kind) {
      statusBox.hidden = !message;
      statusBox.textContent = message || "";
      statusBox.className = kind === "info" ? "info-box" : "form-errors";
      statusBox.setAttribute("role", kind === "info" ? "status" : "alert");
    }

    function supported() {
      return Boolean(Pki && window.crypto && window.crypto.subtle && window.indexedDB);
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
      loadMaterial()
        .then(function (loaded) {
          material = loaded;
          return Pki.decryptPrivateKey(material.key, password.value);
        })
        .then(function (opened) {
          return Pki.sign(opened.key, signedText);
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
          var code = (error && error.code) || "";
          show(texts[code] || texts.choose);
          if (code === "wrong_password") {
            password.value = "";
            password.focus();
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
