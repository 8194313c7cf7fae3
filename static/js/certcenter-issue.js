/* The certificate step of the issue (/certificates/issue/certificate/) and the reissue
 * (/certificates/reissue/certificate/): check the certificate password here, make the key pair, send
 * the CSR and the identity random value R to the page's data-request-url, then encrypt the private key
 * with the password (R kept inside it) and keep it in this browser or download the two files; show the
 * receipt. A reissue answers the serials it revoked ("revoked"): their copies kept in this browser are
 * deleted and the receipt lists them. The password and the private key never leave the browser.
 * Uses only window.BankPki (static/js/pki.js). */
(function () {
  "use strict";

  var root = document.getElementById("certificate-issue");
  if (!root) {
    return;
  }
  var texts = JSON.parse(document.getElementById("issue-messages").textContent);
  var form = document.getElementById("issue-form");
  var statusBox = document.getElementById("issue-status");
  var password = document.getElementById("certificate-password");
  var password2 = document.getElementById("certificate-password2");
  var submit = document.getElementById("issue-submit");
  var receipt = document.getElementById("issue-receipt");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var Pki = window.BankPki;

  function show(message, kind) {
    window.CertPage.show(statusBox, message, kind);
  }

  function supported() {
    return Boolean(window.CertPage) && window.CertPage.supported();
  }

  function checked(name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }

  function passwordMessage() {
    return window.CertPage.passwordMessage(texts, password, password2);
  }

  function requestCertificate(body) {
    return window.CertPage.postJson(root.dataset.requestUrl, csrf, body, texts.network);
  }

  function keep(storage, issued, certificateDer, encryptedKey) {
    return window.CertPage.keep(storage, issued, certificateDer, encryptedKey, function () {
      show(texts.save_failed);
    });
  }

  /* The revoked certificates' copies in this browser are useless now; a failure here loses nothing. */
  function forgetRevoked(issued) {
    var serials = Array.isArray(issued.revoked) ? issued.revoked : [];
    return Promise.all(
      serials.map(function (serial) {
        return Pki.store.remove(serial).catch(function () {
          return undefined;
        });
      })
    );
  }

  function showReceipt(issued, keptIn) {
    document.getElementById("receipt-kind").textContent = issued.kind_label;
    document.getElementById("receipt-serial").textContent = issued.serial;
    document.getElementById("receipt-fee").textContent = issued.fee
      ? texts.won.replace("%(amount)s", issued.fee_display)
      : texts.fee_free;
    document.getElementById("receipt-account").textContent = issued.account;
    document.getElementById("receipt-expiry").textContent = issued.not_after_display;
    document.getElementById("receipt-storage").textContent = texts["storage_" + keptIn] || keptIn;
    var revoked = document.getElementById("receipt-revoked");
    if (revoked) {
      revoked.textContent = issued.revoked && issued.revoked.length ? issued.revoked.join(", ") : texts.none_revoked;
    }
    form.hidden = true;
    receipt.hidden = false;
    document.getElementById("issue-receipt-title").focus();
  }

  function issue(event) {
    event.preventDefault();
    if (!supported()) {
      show(texts.no_support);
      return;
    }
    var problem = passwordMessage();
    if (problem) {
      show(problem);
      password.focus();
      return;
    }
    var storage = checked("storage");
    var secret = password.value;
    var identityRandom = Pki.randomBytes(20);
    var keyPair;
    var issued;
    var certificateDer;
    submit.disabled = true;
    show(texts.working, "info");
    Pki.generateKeyPair()
      .then(function (pair) {
        keyPair = pair;
        return Pki.buildCsr(keyPair, root.dataset.commonName || "certificate");
      })
      .then(function (csr) {
        return requestCertificate({
          csr: Pki.b64encode(csr),
          identity_random: Pki.b64encode(identityRandom),
          kind: checked("kind"),
          storage: storage,
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          var refused = new Error(answer.data.message || texts.network);
          refused.server = true;
          throw refused;
        }
        issued = answer.data;
        certificateDer = Pki.b64decode(issued.certificate);
        return Pki.encryptPrivateKey(keyPair.privateKey, secret, identityRandom);
      })
      .then(function (encryptedKey) {
        return keep(storage, issued, certificateDer, encryptedKey);
      })
      .then(function (keptIn) {
        return forgetRevoked(issued).then(function () {
          return keptIn;
        });
      })
      .then(function (keptIn) {
        password.value = "";
        password2.value = "";
        if (keptIn === storage) {
          show("");
        }
        showReceipt(issued, keptIn);
      })
      .catch(function (error) {
        show(error && error.server ? error.message : texts.network);
        submit.disabled = false;
      });
  }

  if (!supported()) {
    show(texts.no_support);
    submit.disabled = true;
    return;
  }
  form.addEventListener("submit", issue);
})();
