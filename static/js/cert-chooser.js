/* Choosing a certificate in the browser (window.CertChooser), shared by the pages that open a certificate
 * with its password (certcenter-login.js, certcenter-external.js, certcenter-copy.js, sign-text.js): list the
 * certificates kept in this browser as a radio list, or read the two files (signCert.der + signPri.key),
 * open the chosen key with the certificate password and map the failures to the page's messages.
 * The password and the opened key never leave the page. Uses only window.BankPki (static/js/pki.js). */
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

  /* options: password (element), texts (the page's messages: none_stored, expires and the failure codes);
   * list, certFile, keyFile (elements), defaulting to the shared markup's #stored-list, #cert-file, #key-file. */
  function attach(options) {
    var Pki = window.BankPki;
    var listBox = options.list !== undefined ? options.list : document.getElementById("stored-list");
    var certFile = options.certFile !== undefined ? options.certFile : document.getElementById("cert-file");
    var keyFile = options.keyFile !== undefined ? options.keyFile : document.getElementById("key-file");
    var password = options.password;
    var texts = options.texts;

    function render(records) {
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

    /* Lists the certificates kept in this browser (none when the store cannot be read). */
    function refresh() {
      return Pki.store
        .list()
        .then(render)
        .catch(function () {
          render([]);
        });
    }

    /* {certificate, key (still encrypted)} of the stored certificate chosen, else of the two files. */
    function load() {
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

    /* Loads the chosen certificate, runs check(material) if given (it throws to stop), then opens the key
     * with the password: resolves {certificate, key, opened} (opened: BankPki.decryptPrivateKey's answer). */
    function open(check) {
      var material;
      return load()
        .then(function (loaded) {
          material = loaded;
          if (check) {
            check(material);
          }
          return Pki.decryptPrivateKey(material.key, password.value);
        })
        .then(function (opened) {
          return { certificate: material.certificate, key: material.key, opened: opened };
        });
    }

    /* Shows the failure with show(message): a "server:<message>" code as that message, a known code as the
     * page's message for it (a wrong password also empties the field), anything else as `otherwise`. */
    function report(error, show, otherwise) {
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
        show(otherwise);
      }
    }

    return { refresh: refresh, load: load, open: open, report: report };
  }

  window.CertChooser = { attach: attach, fail: fail, readFile: readFile };
})();
