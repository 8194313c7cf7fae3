/* My certificates (/certificates/mine/...), on window.BankPki (static/js/pki.js):
 * - the lists (ours, and other institutions' registered here): mark the rows whose certificate is kept in
 *   this browser (BankPki.store.list(), by serial);
 * - the revoked page: delete the revoked certificate's copy kept in this browser (data-remove-serial);
 * - the renewal page: check the new certificate password, make the new key pair, send the CSR and the
 *   identity random value R, encrypt the new key (R kept inside it), keep it where the old one was kept,
 *   delete the old browser copy and show the receipt. The password and the private key never leave the browser. */
(function () {
  "use strict";

  var Pki = window.BankPki;

  function texts(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  function storeUsable() {
    return Boolean(Pki && window.indexedDB);
  }

  // --- the list ------------------------------------------------------------------------------------------

  function markStored(table) {
    var t = texts("mine-messages");
    var note = document.getElementById("mine-browser-note");
    if (!storeUsable()) {
      return;
    }
    Pki.store.list().then(
      function (records) {
        var stored = {};
        (records || []).forEach(function (record) {
          stored[String(record.serial)] = true;
        });
        var count = 0;
        table.querySelectorAll("tr[data-serial]").forEach(function (row) {
          var cell = row.querySelector(".mine-in-browser");
          var here = Boolean(stored[row.dataset.serial]);
          if (here) {
            count += 1;
          }
          cell.textContent = here ? t.in_browser : t.not_in_browser;
          row.dataset.inBrowser = here ? "yes" : "no";
        });
        if (note && table.id === "mine-table") {
          // The count is of this bank's certificates (the note sits above their table).
          note.textContent = t.browser_count.replace("%(count)s", String(count));
          note.hidden = false;
        }
      },
      function () {
        // No IndexedDB here (private mode, blocked storage): leave the column as it is.
      }
    );
  }

  // --- after a revocation ------------------------------------------------------------------------------------

  function removeRevoked(root) {
    var t = texts("mine-messages");
    var line = document.getElementById("revoked-browser-copy");
    var serial = root.dataset.removeSerial;
    if (!serial || !storeUsable()) {
      return;
    }
    Pki.store
      .get(serial)
      .then(function (record) {
        if (!record) {
          return false;
        }
        return Pki.store.remove(serial).then(function () {
          return true;
        });
      })
      .then(
        function (removed) {
          line.textContent = removed ? t.removed : t.none;
          line.hidden = false;
          root.dataset.browserCopy = removed ? "removed" : "none";
        },
        function () {
          root.dataset.browserCopy = "error";
        }
      );
  }

  // --- renewal ---------------------------------------------------------------------------------------------

  function renewal(root) {
    var t = texts("renew-messages");
    var form = document.getElementById("renew-form");
    var statusBox = document.getElementById("renew-status");
    var password = document.getElementById("certificate-password");
    var password2 = document.getElementById("certificate-password2");
    var submit = document.getElementById("renew-submit");
    var receipt = document.getElementById("renew-receipt");
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var oldSerial = root.dataset.oldSerial;

    function show(message, kind) {
      window.CertPage.show(statusBox, message, kind);
    }

    function supported() {
      return Boolean(window.CertPage) && window.CertPage.supported();
    }

    function passwordMessage() {
      return window.CertPage.passwordMessage(t, password, password2);
    }

    function chosenAccount() {
      var input = form.querySelector("input[name=account]:checked");
      return input ? parseInt(input.value, 10) : null;
    }

    function post(body) {
      return window.CertPage.postJson(root.dataset.requestUrl, csrf, body, t.network);
    }

    function keep(storage, renewed, certificateDer, encryptedKey) {
      return window.CertPage.keep(storage, renewed, certificateDer, encryptedKey, function () {
        show(t.save_failed);
      });
    }

    function forgetOld() {
      // The old certificate is revoked now; its browser copy is useless. A failure here loses nothing.
      return Pki.store.remove(oldSerial).then(
        function () {
          root.dataset.oldCopy = "removed";
        },
        function () {
          root.dataset.oldCopy = "error";
        }
      );
    }

    function showReceipt(renewed, keptIn) {
      document.getElementById("receipt-kind").textContent = renewed.kind_label;
      document.getElementById("receipt-serial").textContent = renewed.serial;
      document.getElementById("receipt-old-serial").textContent = renewed.old_serial;
      document.getElementById("receipt-fee").textContent = renewed.fee
        ? t.won.replace("%(amount)s", renewed.fee_display)
        : t.fee_free;
      document.getElementById("receipt-account").textContent = renewed.account || "—";
      document.getElementById("receipt-expiry").textContent = renewed.not_after_display;
      document.getElementById("receipt-storage").textContent = t["storage_" + keptIn] || keptIn;
      form.hidden = true;
      receipt.hidden = false;
      document.getElementById("renew-receipt-title").focus();
    }

    function renew(event) {
      event.preventDefault();
      if (!supported()) {
        show(t.no_support);
        return;
      }
      var problem = passwordMessage();
      if (problem) {
        show(problem);
        password.focus();
        return;
      }
      var storage = root.dataset.storage;
      var secret = password.value;
      var identityRandom = Pki.randomBytes(20);
      var keyPair;
      var renewed;
      var certificateDer;
      var keptIn;
      submit.disabled = true;
      show(t.working, "info");
      Pki.generateKeyPair()
        .then(function (pair) {
          keyPair = pair;
          return Pki.buildCsr(keyPair, root.dataset.commonName || "certificate");
        })
        .then(function (csr) {
          var body = { csr: Pki.b64encode(csr), identity_random: Pki.b64encode(identityRandom) };
          var account = chosenAccount();
          if (account !== null) {
            body.account = account;
          }
          return post(body);
        })
        .then(function (answer) {
          if (!answer.ok) {
            var refused = new Error(answer.data.message || t.network);
            refused.server = true;
            throw refused;
          }
          renewed = answer.data;
          certificateDer = Pki.b64decode(renewed.certificate);
          return Pki.encryptPrivateKey(keyPair.privateKey, secret, identityRandom);
        })
        .then(function (encryptedKey) {
          return keep(storage, renewed, certificateDer, encryptedKey);
        })
        .then(function (where) {
          keptIn = where;
          return forgetOld();
        })
        .then(function () {
          password.value = "";
          password2.value = "";
          if (keptIn === storage) {
            show("");
          }
          showReceipt(renewed, keptIn);
        })
        .catch(function (error) {
          show(error && error.server ? error.message : t.network);
          submit.disabled = false;
        });
    }

    if (!supported()) {
      show(t.no_support);
      submit.disabled = true;
      return;
    }
    form.addEventListener("submit", renew);
  }

  // Our certificates and the other institutions' registered here: mark the ones kept in this browser.
  ["mine-table", "mine-external-table"].forEach(function (id) {
    var table = document.getElementById(id);
    if (table) {
      markStored(table);
    }
  });
  var revoked = document.getElementById("mine-revoked");
  if (revoked) {
    removeRevoked(revoked);
  }
  var renewRoot = document.getElementById("certificate-renew");
  if (renewRoot && document.getElementById("renew-form")) {
    renewal(renewRoot);
  }
})();
