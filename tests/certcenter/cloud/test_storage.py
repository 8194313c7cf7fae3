"""What the cloud keeps in the database: no clear key, data key, PIN or phone number in any column;
the KEK ring rotates; a missing KEK refuses cleanly; the PIN count is committed on its own."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection, transaction

from bankportal.audit.models import AuditEvent
from certcenter import ca
from certcenter.cloud import envelope
from certcenter.cloud.api import CertificateStatus, CloudRefused, Refusal
from certcenter.cloud.local import LocalCloud
from certcenter.cloud.models import CloudCertificate as Record
from tests.certcenter.cloud.conftest import ENROLLED_AT, NAME, PHONE, PIN, WRONG_PIN, certificate_for, enroll, issue

LATER = ENROLLED_AT + dt.timedelta(days=30)
KNOWN_DEK = bytes(range(100, 132))
OLD_KEK = "old:" + base64.b64encode(b"o" * 32).decode()
NEW_KEK = "new:" + base64.b64encode(b"n" * 32).decode()


@pytest.fixture(scope="module")
def known_key() -> rsa.RSAPrivateKey:
    return envelope.new_private_key()


def _as_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def _dump() -> dict[str, list[bytes]]:
    """Every column of every cloud table and of the audit table, as the bytes a dump would hold."""
    tables = [name for name in connection.introspection.table_names() if name.startswith("fincloud_")]
    tables.append(AuditEvent._meta.db_table)
    dumped: dict[str, list[bytes]] = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - our table names
            dumped[table] = [_as_bytes(value) for row in cursor.fetchall() for value in row]
    return dumped


def _forms(secret: bytes) -> list[bytes]:
    """The raw bytes and the text encodings a column could hold them in."""
    return [secret, binascii.hexlify(secret), binascii.hexlify(secret).upper(), base64.b64encode(secret)]


@pytest.mark.django_db
def test_a_database_dump_holds_no_clear_key_data_key_pin_or_phone(monkeypatch, chain, known_key):
    monkeypatch.setattr(envelope, "new_private_key", lambda: known_key)
    monkeypatch.setattr(envelope, "new_data_key", lambda: KNOWN_DEK)
    cloud = LocalCloud()
    state = issue(cloud, chain)
    with pytest.raises(CloudRefused):
        cloud.sign(cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"x", now=LATER)
    cloud.register(cloud_id=state.cloud_id, institution="004", now=LATER)

    pkcs8 = known_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pkcs1 = known_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    pem = known_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem_lines = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    private_exponent = known_key.private_numbers().d.to_bytes(256, "big")
    kek = base64.b64decode(OLD_KEK.split(":")[1])
    needles = {
        "PKCS#8 DER private key": _forms(pkcs8),
        "PKCS#1 DER private key": _forms(pkcs1),
        "PEM body line": pem_lines[1:-1],  # the first and last lines too, below; they share nothing usable
        "private exponent": _forms(private_exponent),
        "data key": _forms(KNOWN_DEK),
        "PIN": [PIN.encode(), WRONG_PIN.encode()],
        "phone": [b"01048217395", PHONE.encode(), b"48217395", b"4821-7395"],
        "KEK": _forms(kek),
    }
    needles["PEM body line"] += [pem_lines[0], pem_lines[-1]]

    dumped = _dump()

    assert dumped["fincloud_cloudcertificate"] and dumped["fincloud_cloudregistration"]
    everything = b"\n".join(value for values in dumped.values() for value in values)
    # Not vacuous: the public parts are there, in the same dump.
    assert state.certificate_der in everything
    assert NAME.encode() in everything
    found = {what for what, forms in needles.items() for form in forms if form and form in everything}
    assert found == set()


@pytest.mark.django_db
def test_the_kek_ring_rotates_old_keys_still_open_and_move_forward(settings, chain):
    settings.CLOUD_KEK = OLD_KEK
    cloud = LocalCloud()
    old = issue(cloud, chain)
    assert Record.objects.get(cloud_id=old.cloud_id).kek_id == "old"

    settings.CLOUD_KEK = f"{NEW_KEK},{OLD_KEK}"
    fresh = issue(cloud, chain)
    assert Record.objects.get(cloud_id=fresh.cloud_id).kek_id == "new"
    # A wrong PIN leaves the old record under its old key; a right one signs and moves it to the new key.
    with pytest.raises(CloudRefused):
        cloud.sign(cloud_id=old.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    assert Record.objects.get(cloud_id=old.cloud_id).kek_id == "old"
    signed = cloud.sign(cloud_id=old.cloud_id, pin=PIN, data=b"x", now=LATER)
    assert ca.verify_signature(ca.load_certificate(signed.certificate_der), b"x", signed.signature)
    assert Record.objects.get(cloud_id=old.cloud_id).kek_id == "new"

    settings.CLOUD_KEK = NEW_KEK  # the old key retired: both still open
    for state in (old, fresh):
        cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"x", now=LATER)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ring",
    [NEW_KEK, "old:" + base64.b64encode(b"x" * 32).decode()],
    ids=["id-missing", "id-reused-for-another-key"],
)
def test_without_its_kek_signing_is_refused_cleanly_and_counts_nothing(settings, chain, caplog, ring):
    settings.CLOUD_KEK = OLD_KEK
    cloud = LocalCloud()
    state = issue(cloud, chain)
    settings.CLOUD_KEK = ring

    for pin in (PIN, WRONG_PIN, PIN, WRONG_PIN, WRONG_PIN, WRONG_PIN):  # more than 5 tries
        with caplog.at_level(logging.ERROR), pytest.raises(CloudRefused) as caught:
            cloud.sign(cloud_id=state.cloud_id, pin=pin, data=b"x", now=LATER)
        assert caught.value.code == Refusal.UNAVAILABLE
    with pytest.raises(CloudRefused) as caught:
        cloud.renew(cloud_id=state.cloud_id, pin=PIN, now=LATER)
    assert caught.value.code == Refusal.UNAVAILABLE

    after = cloud.status(cloud_id=state.cloud_id)
    assert (after.status, after.wrong_pins) == (CertificateStatus.ACTIVE, 0)  # the operator's mistake, not hers
    assert "does not open under CLOUD_KEK" in caplog.text
    assert AuditEvent.objects.filter(action="fincloud.sign_refused", details__refusal="unavailable").count() == 6
    settings.CLOUD_KEK = OLD_KEK  # the key put back: it works again
    cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"x", now=LATER)


@pytest.mark.django_db(transaction=True)
def test_the_wrong_pin_count_is_committed_whatever_the_caller_rolls_back(chain):
    """No test transaction around it: what the PIN check wrote is committed by the time the refusal
    reaches the caller, so a rollback of the caller's own work cannot take it back; and inside a
    caller's transaction the check does not run at all."""
    cloud = LocalCloud()
    state = issue(cloud, chain)

    class CallerFailed(Exception):
        pass

    with pytest.raises(CloudRefused):
        cloud.sign(cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    with pytest.raises(CallerFailed), transaction.atomic():
        Record.objects.filter(cloud_id=state.cloud_id).update(holder_name="rolled back")
        raise CallerFailed
    with pytest.raises(RuntimeError), transaction.atomic():
        cloud.sign(cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)

    assert not connection.in_atomic_block
    record = Record.objects.get(cloud_id=state.cloud_id)
    assert (record.wrong_pins, record.holder_name) == (1, NAME)
    assert AuditEvent.objects.filter(action="fincloud.sign_refused", details__cloud_id=str(state.cloud_id)).count() == 1


@pytest.mark.django_db
def test_a_certificate_that_does_not_parse_is_a_value_error(chain):
    cloud = LocalCloud()
    enrollment = enroll(cloud)
    with pytest.raises(ValueError, match="does not parse"):
        cloud.attach_certificate(cloud_id=enrollment.cloud_id, certificate_der=b"\x30\x03garbage", now=LATER)
    cloud.attach_certificate(
        cloud_id=enrollment.cloud_id, certificate_der=certificate_for(chain, enrollment), now=ENROLLED_AT
    )
