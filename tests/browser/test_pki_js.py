"""static/js/pki.js in Chromium: the browser's key pair, CSR and encrypted PKCS#8 are what the server's CA
(certcenter.ca), cryptography and ``openssl`` accept, and the password rule is the server's.

The script is loaded into one of our pages (/pki/ca/) as a same-origin <script src>, so the strict CSP applies;
the tests drive it with ``page.evaluate`` (the test, not page code)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.padding import PKCS7
from cryptography.x509 import Certificate

from certcenter import ca
from certcenter.ca.common import ARC
from tests.browser.conftest import console_problems

# The live server needs committed data; tests/conftest.py puts the data-migration rows back.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Cert-pass-2026!"
IDENTITY_RANDOM = bytes(range(1, 21))  # 20 bytes, easy to spot in a dump
R_OID = f"{ARC}.2.2"
URLS = ca.PkiUrls(
    crl="https://bank.example/pki/crl/",
    ocsp="https://bank.example/pki/ocsp",
    ca_issuer="https://bank.example/pki/ca/issuing.der",
)
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

# Generates a key pair, a CSR for `cn`, and the key encrypted under `password` with R: all base64.
KEY_AND_CSR_JS = """async ([cn, password, r, iterations]) => {
  const pair = await BankPki.generateKeyPair();
  const csr = await BankPki.buildCsr(pair, cn);
  const options = iterations ? {iterations} : undefined;
  const key = await BankPki.encryptPrivateKey(pair.privateKey, password, BankPki.b64decode(r), options);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  return {csr: BankPki.b64encode(csr), key: BankPki.b64encode(key), spki: BankPki.b64encode(spki)};
}"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


@pytest.fixture(scope="module")
def issuing_ca() -> ca.CaMaterial:
    root = ca.new_root_ca(common_name="Test Root CA", organization="Test Bank", now=NOW)
    return ca.new_issuing_ca(root=root, common_name="Test Issuing CA", organization="Test Bank", urls=URLS, now=NOW)


@pytest.fixture
def pki(page):  # type: ignore[no-untyped-def]
    """One of our pages with pki.js loaded the way the certificate pages load it; fails on console errors."""
    problems = console_problems(page)
    page.goto("/pki/ca/")
    page.add_script_tag(url="/static/js/pki.js")
    page.wait_for_function("() => typeof window.BankPki === 'object'")
    yield page
    assert problems == []


def browser_key(page, *, cn: str = "alice2026", iterations: int | None = None) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    result = page.evaluate(KEY_AND_CSR_JS, [cn, PASSWORD, b64(IDENTITY_RANDOM), iterations])
    return {name: unb64(value) for name, value in result.items()}


def issue(issuing_ca: ca.CaMaterial, csr_der: bytes, serial: int = 4242424242) -> Certificate:
    csr = ca.load_csr(csr_der)
    return ca.issue_customer_certificate(
        issuer=issuing_ca,
        public_key=csr.public_key(),
        subject_common_name="alice2026",
        serial=serial,
        kind=ca.CertificateKind.RESTRICTED,
        identity=None,
        urls=URLS,
        now=NOW,
    )


def openssl(*args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl is not installed")
    return subprocess.run([path, *args], input=data, capture_output=True, check=False)  # noqa: S603


def test_the_csr_passes_the_server_check_and_the_issued_certificate_carries_the_browser_key(pki, issuing_ca):
    """A CSR for CN alice2026 from a fresh RSA-2048 key passes load_csr (SHA-256, valid self-signature); the
    certificate issued from it holds the browser's public key, and parseCertificate reads its serial,
    subject and validity."""
    made = browser_key(pki)
    csr = ca.load_csr(made["csr"])
    assert csr.subject.rfc4514_string() == "CN=alice2026"
    key = csr.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048 and key.public_numbers().e == 65537
    assert len(list(csr.attributes)) == 0

    cert = issue(issuing_ca, made["csr"])
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki == made["spki"]

    parsed = pki.evaluate("(der) => BankPki.parseCertificate(BankPki.b64decode(der))", b64(ca.certificate_der(cert)))
    assert parsed["serial"] == "4242424242"
    assert parsed["subject"] == "alice2026"
    assert dt.datetime.fromisoformat(parsed["notBefore"]) == cert.not_valid_before_utc
    assert dt.datetime.fromisoformat(parsed["notAfter"]) == cert.not_valid_after_utc
    assert dt.datetime.fromisoformat(parsed["notAfter"]) == ca.expiry_for(NOW)  # 23:59:59 KST


def test_a_tampered_csr_is_refused_by_the_server(pki):
    """Proof of possession is real: one flipped bit in the signed part makes load_csr refuse it."""
    csr = bytearray(browser_key(pki)["csr"])
    csr[-300] ^= 0x01  # inside the public key's modulus
    with pytest.raises(ca.InvalidCsr):
        ca.load_csr(bytes(csr))


def test_the_encrypted_key_opens_with_cryptography_and_openssl_and_keeps_r(pki, tmp_path: Path):
    """The key file is PBES2 (PBKDF2-HMAC-SHA256, 200,000 iterations by default, AES-256-CBC): cryptography
    and `openssl pkey` open it with the password and refuse another; R is inside as the ARC.2.2 attribute."""
    made = browser_key(pki)
    key = serialization.load_der_private_key(made["key"], password=PASSWORD.encode())
    assert isinstance(key, rsa.RSAPrivateKey)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public == made["spki"]
    with pytest.raises(ValueError):
        serialization.load_der_private_key(made["key"], password=b"Other-pass-2026!")

    key_file = tmp_path / "signPri.key"
    key_file.write_bytes(made["key"])
    opened = openssl("pkey", "-in", str(key_file), "-inform", "DER", "-passin", f"pass:{PASSWORD}", "-noout", data=b"")
    assert opened.returncode == 0, opened.stderr
    refused = openssl("pkey", "-in", str(key_file), "-inform", "DER", "-passin", "pass:Other-pass-2026!", data=b"")
    assert refused.returncode != 0

    structure = openssl("asn1parse", "-inform", "DER", data=made["key"]).stdout.decode()
    for name in ("PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"):
        assert f":{name}" in structure
    iterations = re.findall(r"prim:\s+INTEGER\s+:([0-9A-F]+)", structure)
    assert [int(value, 16) for value in iterations] == [200_000]

    # Decrypt by hand from the parameters in the file (PBKDF2-HMAC-SHA256 → AES-256-CBC): the PrivateKeyInfo
    # inside holds R as an attribute (openssl and cryptography open the key but drop attributes).
    salt, iv, ciphertext = (bytes.fromhex(h) for h in re.findall(r"\[HEX DUMP\]:([0-9A-F]+)", structure))
    assert len(salt) == 16 and len(iv) == 16
    aes_key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=200_000).derive(PASSWORD.encode())
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    unpadder = PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    dump = openssl("asn1parse", "-inform", "DER", data=plain).stdout.decode()
    assert f":{R_OID}" in dump
    assert f"[HEX DUMP]:{IDENTITY_RANDOM.hex().upper()}" in dump


def test_the_iteration_count_can_be_raised_and_is_recorded(pki):
    """An explicit iteration count is written into the PBKDF2 parameters, and the file still opens."""
    made = browser_key(pki, iterations=150_001)
    structure = openssl("asn1parse", "-inform", "DER", data=made["key"]).stdout.decode()
    assert [int(v, 16) for v in re.findall(r"prim:\s+INTEGER\s+:([0-9A-F]+)", structure)] == [150_001]
    assert serialization.load_der_private_key(made["key"], password=PASSWORD.encode()) is not None


def test_fewer_than_100000_iterations_are_refused(pki):
    """The issue's floor: encryptPrivateKey refuses 99,999 iterations (and accepts exactly 100,000)."""
    result = pki.evaluate(
        """async () => {
          const pair = await BankPki.generateKeyPair();
          const r = BankPki.randomBytes(20);
          const outcome = async (iterations) => {
            try {
              await BankPki.encryptPrivateKey(pair.privateKey, "Cert-pass-2026!", r, {iterations});
              return "ok";
            } catch (error) {
              return error.name;
            }
          };
          return [await outcome(99999), await outcome(100000)];
        }"""
    )
    assert result == ["RangeError", "ok"]


def test_the_decrypted_key_signs_what_the_server_verifies(pki, issuing_ca):
    """The key file opened in the browser with the right password gives R back and a signature over
    "nonce-text" that verify_signature accepts against the issued certificate (and not over other text)."""
    made = browser_key(pki)
    cert = issue(issuing_ca, made["csr"])
    result = pki.evaluate(
        """async ([key, password]) => {
          const opened = await BankPki.decryptPrivateKey(BankPki.b64decode(key), password);
          const signature = await BankPki.sign(opened.key, "nonce-text");
          return {
            signature: BankPki.b64encode(signature),
            r: BankPki.b64encode(opened.identityRandom),
            extractable: opened.key.extractable,
            usages: opened.key.usages,
          };
        }""",
        [b64(made["key"]), PASSWORD],
    )
    signature = unb64(result["signature"])
    assert ca.verify_signature(cert, b"nonce-text", signature)
    assert not ca.verify_signature(cert, b"nonce-text2", signature)
    assert unb64(result["r"]) == IDENTITY_RANDOM
    assert result["extractable"] is False
    assert result["usages"] == ["sign"]


OPEN_ERROR_JS = """async ([key, password]) => {
  try {
    await BankPki.decryptPrivateKey(BankPki.b64decode(key), password);
    return "opened";
  } catch (error) {
    return error.code || String(error);
  }
}"""


def test_a_wrong_password_and_a_broken_file_are_told_apart(pki):
    """Another password (even one letter's case) rejects with wrong_password; a file that is not an
    encrypted key rejects with bad_key_file."""
    made = browser_key(pki)
    assert pki.evaluate(OPEN_ERROR_JS, [b64(made["key"]), "Other-pass-2026!"]) == "wrong_password"
    assert pki.evaluate(OPEN_ERROR_JS, [b64(made["key"]), PASSWORD.lower()]) == "wrong_password"
    assert pki.evaluate(OPEN_ERROR_JS, [b64(made["csr"]), PASSWORD]) == "bad_key_file"
    assert pki.evaluate(OPEN_ERROR_JS, [b64(b"not DER at all"), PASSWORD]) == "bad_key_file"
    assert pki.evaluate(OPEN_ERROR_JS, [b64(made["key"][:-20]), PASSWORD]) == "bad_key_file"
    assert pki.evaluate(OPEN_ERROR_JS, [b64(made["key"]), PASSWORD]) == "opened"


def test_a_key_file_made_by_cryptography_opens_in_the_browser(pki):
    """The reader is standard, not just our own writer's mirror: cryptography's PBES2 PKCS#8 opens too
    (without R)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    result = pki.evaluate(
        """async ([key, password]) => {
          const opened = await BankPki.decryptPrivateKey(BankPki.b64decode(key), password);
          return {r: opened.identityRandom, signature: BankPki.b64encode(await BankPki.sign(opened.key, "x"))};
        }""",
        [b64(data), PASSWORD],
    )
    assert result["r"] is None
    key.public_key().verify(unb64(result["signature"]), b"x", padding.PKCS1v15(), hashes.SHA256())


PASSWORD_VECTORS = [
    "Abcdef12!x",  # 10: the minimum
    "Abcdef12!",  # 9
    "A1!" + "a" * 47,  # 50: the maximum
    "A1!" + "a" * 48,  # 51
    "",
    "abcdefghij",
    "1234567890",
    "!!!!!!!!!!",
    "abcdefghi1",
    "abcdefghi!",
    "123456789!",
    "ABCDEFGHI1!",
    "Abcdef 12!x",
    "Abcdef12!x\t",
    "Abcdef12!x\u3000",
    "Abcdef12!x\u00a0",
    "Abcdef12!x\u0085",
    "Abcdef12!x\x1c",
    "Abcdef12!x\ufeff",
    "비밀번호1234!",
    "Abcdef12!x한",
    "한글비밀번호입니다요",
    "Abcdéf12!x",
    "Abcdef12!x\x00",
    "Abcdef12!x\x7f",
    "Abcdef12!😀",
    "😀" * 10,
    "😀" * 5 + "A1!" + "a",  # 10 code points, 15 UTF-16 units
    "~`\"\\'{}|[]^_a1",
]


def test_the_password_rule_matches_the_server_on_every_vector(pki):
    """passwordProblems gives exactly certificate_password_problems' codes, in the same order: the 10/50
    boundaries, each missing class, whitespace (Python's idea of it), Hangul, other non-ASCII, emoji."""
    got = pki.evaluate("(vectors) => vectors.map((p) => BankPki.passwordProblems(p))", PASSWORD_VECTORS)
    expected = [ca.certificate_password_problems(p) for p in PASSWORD_VECTORS]
    assert got == expected
    assert expected[0] == [] and expected[1] == ["too_short"]
    assert expected[2] == [] and expected[3] == ["too_long"]


def test_certificates_kept_in_this_browser_roundtrip(pki):
    """save, list, get and remove on the "certificates" store keyed by the serial; bytes come back as bytes."""
    result = pki.evaluate(
        """async () => {
          const record = (serial) => ({serial, certificateDer: Uint8Array.of(1, 2, 3),
            encryptedKeyDer: Uint8Array.of(4, 5), subject: "alice2026",
            notAfter: "2027-03-02T14:59:59.000Z", kind: "restricted"});
          await BankPki.store.save(record("101"));
          await BankPki.store.save(record("202"));
          await BankPki.store.save({...record("202"), subject: "alice2027"});
          const listed = (await BankPki.store.list()).map((r) => r.serial + ":" + r.subject);
          const one = await BankPki.store.get("101");
          await BankPki.store.remove("101");
          const after = (await BankPki.store.list()).map((r) => r.serial);
          const gone = await BankPki.store.get("101");
          return {listed, after, gone: gone === undefined, cert: Array.from(one.certificateDer),
            isBytes: one.encryptedKeyDer instanceof Uint8Array, notAfter: one.notAfter, kind: one.kind};
        }"""
    )
    assert result == {
        "listed": ["101:alice2026", "202:alice2027"],
        "after": ["202"],
        "gone": True,
        "cert": [1, 2, 3],
        "isBytes": True,
        "notAfter": "2027-03-02T14:59:59.000Z",
        "kind": "restricted",
    }


def test_base64_and_random_bytes(pki):
    """b64encode/b64decode are standard base64 (all byte values, large inputs); randomBytes gives n bytes."""
    data = bytes(range(256)) * 300
    encoded = pki.evaluate("(s) => BankPki.b64encode(BankPki.b64decode(s))", b64(data))
    assert unb64(encoded) == data
    sizes = pki.evaluate("() => [BankPki.randomBytes(20).length, BankPki.randomBytes(16) instanceof Uint8Array]")
    assert sizes == [20, True]
    distinct = pki.evaluate(
        "() => BankPki.b64encode(BankPki.randomBytes(20)) !== BankPki.b64encode(BankPki.randomBytes(20))"
    )
    assert distinct is True


def test_download_saves_the_bytes_under_the_file_name(pki):
    """download() makes the browser save the exact bytes as signCert.der."""
    with pki.expect_download() as info:
        pki.evaluate("() => BankPki.download(Uint8Array.of(0, 1, 254, 255), 'signCert.der', 'application/pkix-cert')")
    download = info.value
    assert download.suggested_filename == "signCert.der"
    assert Path(download.path()).read_bytes() == bytes([0, 1, 254, 255])
