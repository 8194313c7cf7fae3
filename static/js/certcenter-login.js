/* Certificate login page (/certificates/login/): pick a certificate kept in this browser or load the
 * two files, decrypt the private key with the certificate password here, sign the server's nonce and
 * post the signature. The password and the private key never leave the browser.
 * Uses only window.BankPki (static/js/pki.js). */
(function () {
  "use strict";

  var root = document.getElementById("certificate-login");
  if (!root) {
    return;
  }
  var texts = JSON.parse(document.getElementById("login-messages").textContent);
  var form = document.getElementById("certificate-login-form");
  var statusBox = document.getElementById("login-status");
  var listBox = document.getElementById("stored-list");
  var certFile = document.getElementById("cert-file");
  var keyFile = document.getElementById("key-file");
  var password = document.getElementById("certificate-password");
  var submit = document.getElementById("certificate-login-submit");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var Pki = window.BankPki;

  function show(message, kind) {
    window.CertPage.show(statusBox, message, kind);
  }

  function supported() {
    return Boolean(window.CertPage) && window.CertPage.supported();
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

  function chosenStored() {
    var checked = listBox.querySelector("input[name=stored]:checked");
    return checked ? checked.value : null;
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

  function loadMaterial() {
    var serial = chosenStored();
    if (serial) {
      return Pki.store.get(serial).then(function (record) {
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
    loadMaterial()
      .then(function (loaded) {
        material = loaded;
        return Pki.decryptPrivateKey(material.key, password.value);
      })
      .then(function (opened) {
        privateKey = opened.key;
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
  form.addEventListener("submit", login);
})();
