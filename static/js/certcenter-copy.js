/* Copy a certificate to another device (/certificates/copy/...): both pages.
 *
 * Receive (#copy-receive): ask the bank for a one-time code bound to this browser session, show it with a
 * countdown, poll its status; once the certificate has arrived, pick it up (the bank empties it at once),
 * check that it is a certificate with a password-encrypted key (PBES2 EncryptedPrivateKeyInfo) and keep it
 * in this browser's certificate store (BankPki.store), as the issue page does.
 *
 * Send (#copy-send): choose a certificate kept in this browser or load its two files, open the key with the
 * certificate password here (a mistyped password sends nothing), check that the key belongs to the
 * certificate, then post the certificate and the still-encrypted key under the code. The password and the
 * opened key never leave this page.
 * Uses window.BankPki (static/js/pki.js), window.CertPage (static/js/certcenter-common.js) and, on the send
 * page, window.CertChooser (static/js/cert-chooser.js). */
(function () {
  "use strict";

  var messagesNode = document.getElementById("copy-messages");
  if (!messagesNode) {
    return;
  }
  var texts = JSON.parse(messagesNode.textContent);
  var Pki = window.BankPki;
  var Page = window.CertPage;
  var PBES2 = "1.2.840.113549.1.5.13";
  var SEQUENCE = 0x30;
  var OCTET_STRING = 0x04;
  var POLL_MS = 2000;
  var RSA_ALGORITHM = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

  function supported() {
    return Boolean(Page) && Page.supported();
  }

  function csrfOf(form) {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function fail(code) {
    var error = new Error(code);
    error.code = code;
    return error;
  }

  /* Throws unless `bytes` is one PBES2 EncryptedPrivateKeyInfo: a plain key is never kept or sent. */
  function checkEncryptedKey(bytes) {
    var der = Pki.der;
    var top = der.children(der.expect(der.readOne(bytes), SEQUENCE));
    if (top.length !== 2 || top[1].tag !== OCTET_STRING) {
      throw new Error("not an EncryptedPrivateKeyInfo");
    }
    var algorithm = der.children(der.expect(top[0], SEQUENCE));
    if (der.decodeOid(algorithm[0]) !== PBES2) {
      throw new Error("not PBES2");
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Receive

  function receivePage(root) {
    var form = document.getElementById("copy-receive-form");
    var csrf = csrfOf(form);
    var codeBox = document.getElementById("copy-code");
    var countdown = document.getElementById("copy-countdown");
    var statusBox = document.getElementById("copy-status");
    var done = document.getElementById("copy-done");
    var newCode = document.getElementById("copy-new-code");
    var current = null; // {code, deadline (ms)}
    var timer = null;
    var generation = 0; // a new code makes the answers about the old one stale

    function say(message, kind) {
      Page.show(statusBox, message, kind);
    }

    function post(url, body) {
      return Page.postJson(url, csrf, body, texts.network);
    }

    function stopClock() {
      if (timer) {
        window.clearInterval(timer);
      }
      timer = null;
    }

    function showLeft(seconds) {
      var minutes = Math.floor(seconds / 60);
      var rest = seconds % 60;
      countdown.textContent = minutes + ":" + (rest < 10 ? "0" : "") + rest;
    }

    function expired() {
      stopClock();
      showLeft(0);
      say(texts.expired);
    }

    function tick() {
      var left = Math.max(0, Math.round((current.deadline - Date.now()) / 1000));
      showLeft(left);
      if (left <= 0) {
        expired();
      }
    }

    function record(data) {
      var certificate = Pki.b64decode(data.certificate);
      var key = Pki.b64decode(data.key);
      var info = Pki.parseCertificate(certificate);
      if (info.serial !== String(data.serial)) {
        throw new Error("the certificate is not the one announced");
      }
      checkEncryptedKey(key);
      return {
        serial: info.serial,
        certificateDer: certificate,
        encryptedKeyDer: key,
        subject: data.subject || info.subject,
        notAfter: info.notAfter,
        kind: data.kind || "",
      };
    }

    function pickup(mine) {
      stopClock();
      say(texts.importing, "info");
      post(root.dataset.pickupUrl, { code: current.code }).then(
        function (answer) {
          if (mine !== generation) {
            return undefined;
          }
          if (!answer.ok) {
            say(answer.data.message || texts.network);
            return undefined;
          }
          var kept;
          try {
            kept = record(answer.data);
          } catch (e) {
            say(texts.bad_copy);
            return undefined;
          }
          return Pki.store.save(kept).then(
            function () {
              codeBox.textContent = "…";
              countdown.textContent = "--:--";
              say(
                texts.done.replace("%(subject)s", kept.subject).replace("%(date)s", kept.notAfter.slice(0, 10)),
                "info"
              );
              done.hidden = false;
            },
            function () {
              say(texts.save_failed);
            }
          );
        },
        function () {
          say(texts.network);
        }
      );
    }

    function poll(mine) {
      if (mine !== generation || !timer) {
        return;
      }
      post(root.dataset.statusUrl, { code: current.code }).then(
        function (answer) {
          if (mine !== generation) {
            return;
          }
          if (!answer.ok) {
            stopClock();
            say(answer.data.message || texts.network);
            return;
          }
          var state = answer.data.state;
          if (state === "uploaded") {
            pickup(mine);
          } else if (state === "expired" || state === "picked_up") {
            expired();
          } else {
            window.setTimeout(poll, POLL_MS, mine);
          }
        },
        function () {
          // The network failed for a moment: ask again while the code lasts.
          window.setTimeout(poll, POLL_MS, mine);
        }
      );
    }

    function start() {
      stopClock();
      generation += 1;
      var mine = generation;
      done.hidden = true;
      say("");
      codeBox.textContent = "…";
      newCode.disabled = true;
      post(root.dataset.startUrl, {}).then(
        function (answer) {
          newCode.disabled = false;
          if (mine !== generation) {
            return;
          }
          if (!answer.ok) {
            say(answer.data.message || texts.network);
            return;
          }
          current = { code: answer.data.code, deadline: Date.now() + answer.data.expires_in * 1000 };
          codeBox.textContent = answer.data.code_display;
          say(texts.waiting, "info");
          tick();
          timer = window.setInterval(tick, 1000);
          window.setTimeout(poll, POLL_MS, mine);
        },
        function () {
          newCode.disabled = false;
          say(texts.network);
        }
      );
    }

    if (!supported()) {
      say(texts.no_support);
      newCode.disabled = true;
      return;
    }
    newCode.addEventListener("click", start);
    start();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Send

  function sendPage(root) {
    var form = document.getElementById("copy-send-form");
    var csrf = csrfOf(form);
    var statusBox = document.getElementById("send-status");
    var password = document.getElementById("certificate-password");
    var codeInput = document.getElementById("copy-code-input");
    var submit = document.getElementById("copy-send-submit");
    var chooser = window.CertChooser.attach({ password: password, texts: texts });

    function say(message, kind) {
      Page.show(statusBox, message, kind);
    }

    /* The certificate's SubjectPublicKeyInfo (DER). */
    function publicKeyInfo(certificate) {
      var der = Pki.der;
      var tbs = der.children(der.children(der.readOne(certificate))[0]);
      var i = tbs[0].tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version, absent for v1
      return tbs[i + 5].bytes;
    }

    /* Resolves if `privateKey` signs what the certificate's public key verifies. */
    function checkPair(certificate, privateKey) {
      var probe = Pki.b64encode(Pki.randomBytes(24));
      var subtle = window.crypto.subtle;
      return Promise.all([
        Pki.sign(privateKey, probe),
        subtle.importKey("spki", publicKeyInfo(certificate), RSA_ALGORITHM, false, ["verify"]),
      ])
        .then(function (parts) {
          return subtle.verify(RSA_ALGORITHM, parts[1], parts[0], new TextEncoder().encode(probe));
        })
        .then(
          function (ok) {
            if (!ok) {
              throw fail("key_mismatch");
            }
          },
          function (error) {
            throw error && error.code ? error : fail("key_mismatch");
          }
        );
    }

    function send(event) {
      event.preventDefault();
      if (!supported()) {
        say(texts.no_support);
        return;
      }
      var code = codeInput.value.replace(/[\s-]/g, "");
      if (!/^[0-9]{12}$/.test(code)) {
        say(texts.enter_code);
        codeInput.focus();
        return;
      }
      if (!password.value) {
        say(texts.enter_password);
        password.focus();
        return;
      }
      submit.disabled = true;
      say(texts.sending, "info");
      var material;
      chooser
        .open(function (loaded) {
          // A stored certificate is checked too: a plain key is never sent.
          try {
            Pki.parseCertificate(loaded.certificate);
          } catch (e) {
            throw fail("bad_cert_file");
          }
          try {
            checkEncryptedKey(loaded.key);
          } catch (e) {
            throw fail("bad_key_file");
          }
        })
        .then(function (chosen) {
          material = chosen;
          return checkPair(material.certificate, chosen.opened.key);
        })
        .then(function () {
          return Page.postJson(
            root.dataset.uploadUrl,
            csrf,
            { code: code, certificate: Pki.b64encode(material.certificate), key: Pki.b64encode(material.key) },
            texts.network
          );
        })
        .then(function (answer) {
          if (!answer.ok) {
            throw fail("server:" + (answer.data.message || ""));
          }
          password.value = "";
          codeInput.value = "";
          say(texts.sent, "info");
          submit.disabled = false;
        })
        .catch(function (error) {
          chooser.report(error, say, texts.network);
          submit.disabled = false;
        });
    }

    if (!supported()) {
      say(texts.no_support);
      submit.disabled = true;
      return;
    }
    chooser.refresh();
    form.addEventListener("submit", send);
  }

  var receiveRoot = document.getElementById("copy-receive");
  if (receiveRoot) {
    receivePage(receiveRoot);
  }
  var sendRoot = document.getElementById("copy-send");
  if (sendRoot) {
    sendPage(sendRoot);
  }
})();
