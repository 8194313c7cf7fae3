/* The certificate centre's key work in the browser (window.BankPki). No modules, no third-party code.
 *
 * The private key and the certificate password never leave this page: the key pair is made with WebCrypto,
 * the server only receives a PKCS#10 request (CSR) and, at login, signatures. The private key is kept as a
 * standard encrypted PKCS#8 file (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC) that `openssl pkey` opens, with
 * the identity random R stored inside it as a PKCS#8 attribute.
 *
 * Contract: docs in /tmp/bp/js_contract.md at the time of writing; mirrored by certcenter/ca/ on the server
 * (load_csr, passwords.py, common.ARC). Every function returns a Promise unless marked "sync".
 */
(function () {
  "use strict";

  var subtle = window.crypto && window.crypto.subtle;

  // ---------------------------------------------------------------------------------------------------------
  // OIDs
  var OID = {
    commonName: "2.5.4.3",
    rsaEncryption: "1.2.840.113549.1.1.1",
    sha256WithRSA: "1.2.840.113549.1.1.11",
    pbes2: "1.2.840.113549.1.5.13",
    pbkdf2: "1.2.840.113549.1.5.12",
    hmacWithSHA1: "1.2.840.113549.2.7",
    hmacWithSHA256: "1.2.840.113549.2.9",
    aes128CBC: "2.16.840.1.101.3.4.1.2",
    aes192CBC: "2.16.840.1.101.3.4.1.22",
    aes256CBC: "2.16.840.1.101.3.4.1.42",
    // Our own arc (certcenter/ca/common.py ARC); .2.1 is the identity otherName, .2.2 holds R in the key file.
    identityRandom: "2.25.44443820502310846391072228420191114197.2.2",
  };
  var AES_KEY_BYTES = {};
  AES_KEY_BYTES[OID.aes128CBC] = 16;
  AES_KEY_BYTES[OID.aes192CBC] = 24;
  AES_KEY_BYTES[OID.aes256CBC] = 32;
  var PRF_HASH = {};
  PRF_HASH[OID.hmacWithSHA1] = "SHA-1";
  PRF_HASH[OID.hmacWithSHA256] = "SHA-256";

  var RSA_ALGORITHM = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  // Issue 8: at least 100,000 PBKDF2 iterations. The ceiling only stops a hostile file from hanging the page.
  var MIN_ITERATIONS = 100000;
  var MAX_ITERATIONS = 10000000;

  // ---------------------------------------------------------------------------------------------------------
  // DER: a small tag-length-value encoder and reader (X.690), just what certificates and PKCS#8 need.
  var TAG = {
    INTEGER: 0x02,
    BIT_STRING: 0x03,
    OCTET_STRING: 0x04,
    NULL: 0x05,
    OID: 0x06,
    UTF8String: 0x0c,
    PrintableString: 0x13,
    IA5String: 0x16,
    UTCTime: 0x17,
    GeneralizedTime: 0x18,
    BMPString: 0x1e,
    SEQUENCE: 0x30,
    SET: 0x31,
  };

  function concat(parts) {
    var total = 0;
    parts.forEach(function (p) {
      total += p.length;
    });
    var out = new Uint8Array(total);
    var at = 0;
    parts.forEach(function (p) {
      out.set(p, at);
      at += p.length;
    });
    return out;
  }

  function encodeLength(n) {
    if (n < 0x80) return Uint8Array.of(n);
    var bytes = [];
    while (n > 0) {
      bytes.unshift(n & 0xff);
      n = Math.floor(n / 256);
    }
    return Uint8Array.from([0x80 | bytes.length].concat(bytes));
  }

  var der = {
    /** One element: tag byte, DER length, content. */
    tlv: function (tag, content) {
      return concat([Uint8Array.of(tag), encodeLength(content.length), content]);
    },
    sequence: function (items) {
      return der.tlv(TAG.SEQUENCE, concat(items));
    },
    set: function (items) {
      // DER sorts SET OF elements by their encodings; every SET we write holds one element.
      return der.tlv(TAG.SET, concat(items));
    },
    /** [n] constructed (explicit, or implicit SET/SEQUENCE). */
    context: function (n, items) {
      return der.tlv(0xa0 | n, concat(items));
    },
    integer: function (value) {
      // Minimal two's complement of a non-negative BigInt/number.
      var n = BigInt(value);
      if (n < 0n) throw new Error("negative integers are not needed here");
      var hex = n.toString(16);
      if (hex.length % 2) hex = "0" + hex;
      if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = "00" + hex;
      return der.tlv(TAG.INTEGER, hexToBytes(hex));
    },
    octetString: function (bytes) {
      return der.tlv(TAG.OCTET_STRING, bytes);
    },
    bitString: function (bytes) {
      return der.tlv(TAG.BIT_STRING, concat([Uint8Array.of(0), bytes])); // 0 unused bits
    },
    null: function () {
      return Uint8Array.of(TAG.NULL, 0);
    },
    utf8String: function (text) {
      return der.tlv(TAG.UTF8String, new TextEncoder().encode(text));
    },
    printableString: function (text) {
      return der.tlv(TAG.PrintableString, new TextEncoder().encode(text));
    },
    oid: function (dotted) {
      // Arcs may be huge (2.25.<128-bit UUID>), so base-128 in BigInt.
      var arcs = dotted.split(".").map(function (a) {
        return BigInt(a);
      });
      var values = [arcs[0] * 40n + arcs[1]].concat(arcs.slice(2));
      var out = [];
      values.forEach(function (v) {
        var chunk = [Number(v & 0x7fn)];
        v >>= 7n;
        while (v > 0n) {
          chunk.unshift(Number(v & 0x7fn) | 0x80);
          v >>= 7n;
        }
        out = out.concat(chunk);
      });
      return der.tlv(TAG.OID, Uint8Array.from(out));
    },

    /** The element at `offset`: {tag, start, end, content (a view), bytes (whole element)}. Throws on bad DER. */
    read: function (bytes, offset) {
      offset = offset || 0;
      if (offset + 2 > bytes.length) throw new Error("DER: truncated");
      var tag = bytes[offset];
      if ((tag & 0x1f) === 0x1f) throw new Error("DER: multi-byte tags are not supported");
      var first = bytes[offset + 1];
      var at = offset + 2;
      var length = first;
      if (first & 0x80) {
        var count = first & 0x7f;
        if (count === 0 || count > 4) throw new Error("DER: unsupported length");
        if (at + count > bytes.length) throw new Error("DER: truncated");
        length = 0;
        for (var i = 0; i < count; i++) length = length * 256 + bytes[at + i];
        at += count;
      }
      var end = at + length;
      if (end > bytes.length) throw new Error("DER: truncated");
      return {
        tag: tag,
        start: offset,
        end: end,
        content: bytes.subarray(at, end),
        bytes: bytes.subarray(offset, end),
      };
    },
    /** Read a whole buffer as exactly one element (no trailing bytes). */
    readOne: function (bytes) {
      var node = der.read(bytes, 0);
      if (node.end !== bytes.length) throw new Error("DER: trailing bytes");
      return node;
    },
    /** The elements inside a constructed element. */
    children: function (node) {
      if (!(node.tag & 0x20)) throw new Error("DER: not a constructed element");
      var out = [];
      var at = 0;
      while (at < node.content.length) {
        var child = der.read(node.content, at);
        out.push(child);
        at = child.end;
      }
      return out;
    },
    expect: function (node, tag) {
      if (!node || node.tag !== tag) throw new Error("DER: unexpected element");
      return node;
    },
    decodeOid: function (node) {
      der.expect(node, TAG.OID);
      var values = [];
      var v = 0n;
      node.content.forEach(function (b) {
        v = (v << 7n) | BigInt(b & 0x7f);
        if (!(b & 0x80)) {
          values.push(v);
          v = 0n;
        }
      });
      var head = values.shift();
      var first = head < 40n ? 0n : head < 80n ? 1n : 2n;
      return [first, head - first * 40n].concat(values).join(".");
    },
    /** A (two's complement) INTEGER as a BigInt. */
    decodeInteger: function (node) {
      der.expect(node, TAG.INTEGER);
      var n = BigInt("0x" + (bytesToHex(node.content) || "0"));
      if (node.content.length && node.content[0] & 0x80) n -= 1n << BigInt(8 * node.content.length);
      return n;
    },
    decodeString: function (node) {
      if (node.tag === TAG.BMPString) {
        var s = "";
        for (var i = 0; i + 1 < node.content.length; i += 2) {
          s += String.fromCharCode((node.content[i] << 8) | node.content[i + 1]);
        }
        return s;
      }
      return new TextDecoder().decode(node.content); // UTF8String, PrintableString, IA5String
    },
    /** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as an ISO string (UTC). */
    decodeTime: function (node) {
      var text = new TextDecoder().decode(node.content);
      var m;
      var year;
      if (node.tag === TAG.UTCTime && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
        year = parseInt(m[1], 10);
        year += year >= 50 ? 1900 : 2000; // RFC 5280 4.1.2.5.1
      } else if (node.tag === TAG.GeneralizedTime && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
        year = parseInt(m[1], 10);
      } else {
        throw new Error("DER: unsupported time");
      }
      var n = m.slice(2).map(function (x) {
        return parseInt(x, 10);
      });
      return new Date(Date.UTC(year, n[0] - 1, n[1], n[2], n[3], n[4])).toISOString();
    },
  };

  function hexToBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function bytesToHex(bytes) {
    return Array.from(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  function algorithmIdentifier(oid, params) {
    return der.sequence([der.oid(oid), params === undefined ? der.null() : params]);
  }

  function coded(code, message) {
    var error = new Error(message);
    error.code = code;
    return error;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Keys, CSR, signatures

  function generateKeyPair() {
    return subtle.generateKey(
      {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: 2048,
        publicExponent: Uint8Array.of(1, 0, 1), // 65537
        hash: "SHA-256",
      },
      true,
      ["sign", "verify"]
    );
  }

  function sign(privateKey, text) {
    return subtle.sign(RSA_ALGORITHM, privateKey, new TextEncoder().encode(text)).then(function (sig) {
      return new Uint8Array(sig);
    });
  }

  /** PKCS#10 (RFC 2986): subject CN=commonName, the public key, no attributes, signed with SHA-256. */
  async function buildCsr(keyPair, commonName) {
    var spki = new Uint8Array(await subtle.exportKey("spki", keyPair.publicKey));
    var subject = der.sequence([
      der.set([der.sequence([der.oid(OID.commonName), der.utf8String(commonName)])]),
    ]);
    var info = der.sequence([
      der.integer(0), // version v1
      subject,
      spki,
      der.context(0, []), // attributes [0] IMPLICIT SET OF Attribute: empty
    ]);
    var signature = new Uint8Array(await subtle.sign(RSA_ALGORITHM, keyPair.privateKey, info));
    return der.sequence([info, algorithmIdentifier(OID.sha256WithRSA), der.bitString(signature)]);
  }

  function randomBytes(n) {
    var out = new Uint8Array(n);
    window.crypto.getRandomValues(out);
    return out;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Encrypted PKCS#8 (RFC 5958 / RFC 8018)

  /** PBKDF2 → an AES-CBC key for `usage` ("encrypt" or "decrypt"). */
  async function deriveAesKey(password, salt, iterations, hash, keyBytes, usage) {
    var base = await subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, [
      "deriveBits",
    ]);
    var bits = await subtle.deriveBits(
      { name: "PBKDF2", salt: salt, iterations: iterations, hash: hash },
      base,
      keyBytes * 8
    );
    return subtle.importKey("raw", bits, "AES-CBC", false, [usage]);
  }

  /** PrivateKeyInfo's parts: version, algorithm, privateKey (elements) and R from the attributes, if any. */
  function splitPrivateKeyInfo(bytes) {
    var parts = der.children(der.expect(der.readOne(bytes), TAG.SEQUENCE));
    if (parts.length < 3 || der.decodeInteger(parts[0]) > 1n) throw new Error("not a PrivateKeyInfo");
    der.expect(parts[1], TAG.SEQUENCE);
    der.expect(parts[2], TAG.OCTET_STRING);
    var identityRandom = null;
    var attributes = parts.find(function (p) {
      return p.tag === 0xa0;
    });
    if (attributes) {
      der.children(attributes).forEach(function (attribute) {
        var fields = der.children(der.expect(attribute, TAG.SEQUENCE));
        if (der.decodeOid(fields[0]) === OID.identityRandom) {
          var values = der.children(der.expect(fields[1], TAG.SET));
          identityRandom = new Uint8Array(der.expect(values[0], TAG.OCTET_STRING).content);
        }
      });
    }
    return { algorithm: parts[1].bytes, privateKey: parts[2].bytes, identityRandom: identityRandom };
  }

  /** EncryptedPrivateKeyInfo of the key (plus R as the attribute ARC.2.2) under `password`. */
  async function encryptPrivateKey(privateKey, password, identityRandom, options) {
    var iterations = (options && options.iterations) || 200000;
    if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
      throw new RangeError("PBKDF2 iterations must be between 100,000 and 10,000,000");
    }
    var exported = new Uint8Array(await subtle.exportKey("pkcs8", privateKey));
    var parts = splitPrivateKeyInfo(exported);
    var items = [der.integer(0), parts.algorithm, parts.privateKey];
    if (identityRandom) {
      var attribute = der.sequence([der.oid(OID.identityRandom), der.set([der.octetString(identityRandom)])]);
      items.push(der.context(0, [attribute]));
    }
    var plain = der.sequence(items);

    var salt = randomBytes(16);
    var iv = randomBytes(16);
    var aesKey = await deriveAesKey(password, salt, iterations, "SHA-256", 32, "encrypt");
    // WebCrypto's AES-CBC pads with PKCS#7, which is the padding PBES2 prescribes.
    var encrypted = new Uint8Array(await subtle.encrypt({ name: "AES-CBC", iv: iv }, aesKey, plain));

    var pbkdf2Params = der.sequence([
      der.octetString(salt),
      der.integer(iterations),
      algorithmIdentifier(OID.hmacWithSHA256),
    ]);
    var pbes2Params = der.sequence([
      algorithmIdentifier(OID.pbkdf2, pbkdf2Params),
      algorithmIdentifier(OID.aes256CBC, der.octetString(iv)),
    ]);
    return der.sequence([algorithmIdentifier(OID.pbes2, pbes2Params), der.octetString(encrypted)]);
  }

  /** The PBES2 parameters of an EncryptedPrivateKeyInfo; throws on anything else. */
  function readEncryptedKeyFile(bytes) {
    var top = der.children(der.expect(der.readOne(bytes), TAG.SEQUENCE));
    var algorithm = der.children(der.expect(top[0], TAG.SEQUENCE));
    if (der.decodeOid(algorithm[0]) !== OID.pbes2) throw new Error("not PBES2");
    var pbes2 = der.children(der.expect(algorithm[1], TAG.SEQUENCE));
    var kdf = der.children(der.expect(pbes2[0], TAG.SEQUENCE));
    if (der.decodeOid(kdf[0]) !== OID.pbkdf2) throw new Error("not PBKDF2");
    var kdfParams = der.children(der.expect(kdf[1], TAG.SEQUENCE));
    var salt = der.expect(kdfParams[0], TAG.OCTET_STRING).content;
    var iterations = Number(der.decodeInteger(kdfParams[1]));
    var hash = "SHA-1"; // the PRF's DEFAULT
    kdfParams.slice(2).forEach(function (p) {
      if (p.tag === TAG.SEQUENCE) hash = PRF_HASH[der.decodeOid(der.children(p)[0])];
    });
    var cipher = der.children(der.expect(pbes2[1], TAG.SEQUENCE));
    var keyBytes = AES_KEY_BYTES[der.decodeOid(cipher[0])];
    var iv = der.expect(cipher[1], TAG.OCTET_STRING).content;
    if (!hash || !keyBytes || iv.length !== 16 || !(iterations > 0 && iterations <= MAX_ITERATIONS)) {
      throw new Error("unsupported PBES2 parameters");
    }
    return {
      salt: new Uint8Array(salt),
      iterations: iterations,
      hash: hash,
      keyBytes: keyBytes,
      iv: new Uint8Array(iv),
      data: new Uint8Array(der.expect(top[1], TAG.OCTET_STRING).content),
    };
  }

  /** {key (non-extractable, sign only), identityRandom}; rejects with .code wrong_password or bad_key_file. */
  async function decryptPrivateKey(encryptedDer, password) {
    var file;
    try {
      file = readEncryptedKeyFile(encryptedDer);
    } catch (e) {
      throw coded("bad_key_file", "not an encrypted private key file: " + e.message);
    }
    var aesKey = await deriveAesKey(password, file.salt, file.iterations, file.hash, file.keyBytes, "decrypt");
    var parts;
    try {
      var plain = new Uint8Array(await subtle.decrypt({ name: "AES-CBC", iv: file.iv }, aesKey, file.data));
      parts = splitPrivateKeyInfo(plain);
    } catch (e) {
      // Bad padding, or (rarely) good padding over garbage: either way the password did not fit.
      throw coded("wrong_password", "the password does not open this key");
    }
    // Import without the attributes: WebCrypto only needs the key itself.
    var bare = der.sequence([der.integer(0), parts.algorithm, parts.privateKey]);
    var key;
    try {
      key = await subtle.importKey("pkcs8", bare, RSA_ALGORITHM, false, ["sign"]);
    } catch (e) {
      throw coded("bad_key_file", "the key inside the file is not an RSA signing key");
    }
    return { key: key, identityRandom: parts.identityRandom };
  }

  // ---------------------------------------------------------------------------------------------------------
  // The certificate password rule (certcenter/ca/passwords.py): 10-50 printable ASCII characters with a letter,
  // a digit and a special character. Lengths count code points, as Python's len() does.
  var PASSWORD_MIN = 10;
  var PASSWORD_MAX = 50;
  var SPECIAL = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"; // Python's string.punctuation
  // Exactly the characters for which Python's str.isspace() is true.
  var WHITESPACE = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;

  function passwordProblems(password) {
    var chars = Array.from(password);
    var isLetter = function (c) {
      return /^[A-Za-z]$/.test(c);
    };
    var isDigit = function (c) {
      return /^[0-9]$/.test(c);
    };
    var isSpecial = function (c) {
      return c.length === 1 && SPECIAL.indexOf(c) >= 0;
    };
    var isSpace = function (c) {
      return WHITESPACE.test(c);
    };
    var problems = [];
    if (chars.length < PASSWORD_MIN) problems.push("too_short");
    if (chars.length > PASSWORD_MAX) problems.push("too_long");
    if (!chars.some(isLetter)) problems.push("needs_letter");
    if (!chars.some(isDigit)) problems.push("needs_digit");
    if (!chars.some(isSpecial)) problems.push("needs_special");
    if (chars.some(isSpace)) problems.push("whitespace");
    var invalid = function (c) {
      return !isSpace(c) && !isLetter(c) && !isDigit(c) && !isSpecial(c);
    };
    if (chars.some(invalid)) problems.push("invalid_character");
    return problems;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Certificates kept in this browser: IndexedDB "bankportal-pki", store "certificates" keyed by serial.

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = window.indexedDB.open("bankportal-pki", 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("certificates", { keyPath: "serial" });
      };
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
    });
  }

  /** Run `action(store)` in one transaction; resolves with the request's result once the transaction commits. */
  function withStore(mode, action) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction("certificates", mode);
        var request = action(tx.objectStore("certificates"));
        tx.oncomplete = function () {
          db.close();
          resolve(request.result);
        };
        tx.onerror = tx.onabort = function () {
          db.close();
          reject(tx.error || request.error);
        };
      });
    });
  }

  var store = {
    save: function (record) {
      return withStore("readwrite", function (s) {
        return s.put(record);
      }).then(function () {
        return undefined;
      });
    },
    list: function () {
      return withStore("readonly", function (s) {
        return s.getAll();
      });
    },
    get: function (serial) {
      return withStore("readonly", function (s) {
        return s.get(String(serial));
      });
    },
    remove: function (serial) {
      return withStore("readwrite", function (s) {
        return s.delete(String(serial));
      }).then(function () {
        return undefined;
      });
    },
  };

  // ---------------------------------------------------------------------------------------------------------
  // Base64, downloads, reading certificates

  function b64encode(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return window.btoa(binary);
  }

  function b64decode(text) {
    var binary = window.atob(text);
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  function download(bytes, filename, mime) {
    var url = URL.createObjectURL(new Blob([bytes], { type: mime || "application/octet-stream" }));
    var link = document.createElement("a");
    link.href = url;
    link.download = filename;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    // Revoke later: the browser may still be reading the Blob when click() returns.
    window.setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 60000);
  }

  /** {serial (decimal), subject (CN), notBefore, notAfter (ISO)} of an X.509 certificate (DER). */
  function parseCertificate(bytes) {
    var cert = der.children(der.expect(der.readOne(bytes), TAG.SEQUENCE));
    var tbs = der.children(der.expect(cert[0], TAG.SEQUENCE));
    var i = tbs[0].tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version, absent for v1
    var serial = der.decodeInteger(tbs[i]);
    var validity = der.children(der.expect(tbs[i + 3], TAG.SEQUENCE));
    var subject = "";
    der.children(der.expect(tbs[i + 4], TAG.SEQUENCE)).forEach(function (rdn) {
      der.children(rdn).forEach(function (attribute) {
        var fields = der.children(attribute);
        if (der.decodeOid(fields[0]) === OID.commonName) subject = der.decodeString(fields[1]);
      });
    });
    return {
      serial: serial.toString(10),
      subject: subject,
      notBefore: der.decodeTime(validity[0]),
      notAfter: der.decodeTime(validity[1]),
    };
  }

  window.BankPki = {
    generateKeyPair: generateKeyPair,
    buildCsr: buildCsr,
    randomBytes: randomBytes,
    encryptPrivateKey: encryptPrivateKey,
    decryptPrivateKey: decryptPrivateKey,
    sign: sign,
    passwordProblems: passwordProblems,
    store: store,
    b64encode: b64encode,
    b64decode: b64decode,
    download: download,
    parseCertificate: parseCertificate,
    der: der, // exposed for tests and the pages' own small needs
  };
})();
