"""Copy a certificate to another device (인증서 복사), the services: a 12-digit code bound to the receiving
session, valid 5 minutes to the second, single use; the server keeps only ciphertext (an encrypted
PKCS#8 key; a plain one is refused) and only until pickup or expiry; only the session that made the
code can pick it up, once; wrong codes pause the client IP after 10.

The sender is played with ``cryptography`` (the browser's encrypted PKCS#8 is the same PBES2 form).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter import services
from certcenter.models import Certificate, CertificateCopy
from certcenter.services import copying
from certcenter.services.copying import (
    COPY_LIFETIME,
    START_LIMIT,
    WRONG_CODE_LIMIT,
    CopyState,
    code_hmac,
    copy_pickup,
    copy_start,
    copy_status,
    copy_upload,
)
from tests.certcenter.test_login import ALICE_SERIAL, CA_ACTOR, CA_TIME, Issued, issue_for

pytestmark = pytest.mark.django_db

ACTOR = copying.copy_actor()
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=KST)
RECEIVER = "r" * 32
OTHER = "o" * 32
IP = "203.0.113.7"
OTHER_IP = "198.51.100.9"
CERT_PASSWORD = b"Cert-pass-2026!"


def encrypted_key(key: rsa.RSAPrivateKey) -> bytes:
    """signPri.key: encrypted PKCS#8 (PBES2) DER, as the browser keeps it."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(CERT_PASSWORD),
    )


def plain_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def start(*, session_key: str = RECEIVER, now: dt.datetime = NOW, client_ip: str = IP) -> str:
    made = copy_start(session_key=session_key, client_ip=client_ip, actor=ACTOR, now=now)
    return made.code  # type: ignore[attr-defined,no-any-return]


def upload(cert: Issued, code: str, *, now: dt.datetime = NOW, client_ip: str = IP, key: bytes | None = None):  # type: ignore[no-untyped-def]
    return copy_upload(
        code=code,
        certificate_der=cert.der,
        encrypted_key_der=encrypted_key(cert.key) if key is None else key,
        client_ip=client_ip,
        actor=ACTOR,
        now=now,
    )


def pickup(code: str, *, session_key: str = RECEIVER, now: dt.datetime = NOW, client_ip: str = IP):  # type: ignore[no-untyped-def]
    return copy_pickup(code=code, session_key=session_key, client_ip=client_ip, actor=ACTOR, now=now)


def status(code: str, *, session_key: str = RECEIVER, now: dt.datetime = NOW, client_ip: str = IP) -> str:
    return copy_status(code=code, session_key=session_key, client_ip=client_ip, actor=ACTOR, now=now).state


def refused(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    with translation.override("en"):
        return str(exc.value.code), exc.value.messages[0]


def en(message: object) -> str:
    with translation.override("en"):
        return str(message)


def the_copy(code: str) -> CertificateCopy:
    return CertificateCopy.objects.get(code_hmac=code_hmac(code))


@pytest.fixture(autouse=True)
def _fresh_copy_throttle() -> Iterator[None]:
    """The throttle counters live in the cache, which outlives each test's rollback."""
    keys = copying.throttle_keys(IP) + copying.throttle_keys(OTHER_IP)
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def cert(db, alice) -> Issued:  # type: ignore[no-untyped-def]
    services.ca_init(actor=CA_ACTOR, now=CA_TIME)
    return issue_for(alice, serial=ALICE_SERIAL, key_name="alice")


# --- start ------------------------------------------------------------------------------------------


def test_a_code_is_12_random_digits_bound_to_the_session_and_only_its_hmac_is_stored(db) -> None:  # type: ignore[no-untyped-def]
    codes = {start(now=NOW + dt.timedelta(seconds=n)) for n in range(5)}
    assert len(codes) == 5 and all(len(code) == 12 and code.isdigit() for code in codes)
    copy = the_copy(sorted(codes)[0])
    assert copy.receiver_session_sha256 != RECEIVER and len(copy.receiver_session_sha256) == 64
    assert all(code not in copy.code_hmac for code in codes)
    stored = {row.code_hmac for row in CertificateCopy.objects.all()}
    assert stored == {code_hmac(code) for code in codes}
    assert copying.format_code("123456789012") == "1234-5678-9012"
    assert copying.normalise_code("1234-5678 9012") == "123456789012"
    assert copying.normalise_code("1234-5678-901") is None and copying.normalise_code("١٢٣٤٥٦٧٨٩٠١٢") is None


def test_a_copy_lives_five_minutes_and_its_start_is_audited_without_the_code(db) -> None:  # type: ignore[no-untyped-def]
    code = start()
    copy = the_copy(code)
    assert copy.expires_at - copy.created_at == COPY_LIFETIME == dt.timedelta(minutes=5)
    event = AuditEvent.objects.get(action="certificate.copy_started")
    assert code not in json.dumps(event.details) and event.object_id == str(copy.pk)


def test_a_new_code_ends_the_sessions_earlier_copy_but_not_other_sessions(cert) -> None:  # type: ignore[no-untyped-def]
    first = start()
    theirs = start(session_key=OTHER)
    upload(cert, first)
    second = start(now=NOW + dt.timedelta(seconds=30))
    assert the_copy(first).payload is None
    assert status(first, now=NOW + dt.timedelta(seconds=31)) == CopyState.EXPIRED
    assert status(theirs, session_key=OTHER, now=NOW + dt.timedelta(seconds=31)) == CopyState.WAITING
    assert status(second, now=NOW + dt.timedelta(seconds=31)) == CopyState.WAITING


def test_a_start_needs_a_session_and_the_copy_permission(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        copy_start(session_key="", client_ip=IP, actor=ACTOR, now=NOW)
    with pytest.raises(PermissionDenied):
        copy_start(session_key=RECEIVER, client_ip=IP, actor=system_actor("test:nobody"), now=NOW)


def test_codes_per_client_ip_are_limited_at_the_limit_and_not_before(db) -> None:  # type: ignore[no-untyped-def]
    for n in range(START_LIMIT):
        start(session_key=f"{n:032d}")
    with pytest.raises(ValidationError) as exc:
        start(session_key="x" * 32)
    code, message = refused(exc)
    assert code == "too_many_codes" and "15 minutes" in message
    start(session_key="y" * 32, client_ip=OTHER_IP)  # another address is not affected


# --- upload and pickup ------------------------------------------------------------------------------


def test_upload_then_pickup_hands_over_the_ciphertext_once_and_empties_it(cert, alice) -> None:  # type: ignore[no-untyped-def]
    code = start()
    key = encrypted_key(cert.key)
    upload(cert, code, key=key, now=NOW + dt.timedelta(minutes=1))
    assert status(code, now=NOW + dt.timedelta(minutes=1)) == CopyState.UPLOADED
    copied = pickup(code, now=NOW + dt.timedelta(minutes=2))
    assert copied.certificate_der == cert.der and copied.encrypted_key_der == key
    assert copied.serial == str(ALICE_SERIAL) and copied.subject == cert.row.subject_cn
    assert copied.kind == cert.row.kind and copied.not_after == cert.row.not_after
    row = the_copy(code)
    assert row.payload is None and row.picked_up_at == NOW + dt.timedelta(minutes=2)
    assert status(code, now=NOW + dt.timedelta(minutes=2)) == CopyState.PICKED_UP

    with pytest.raises(ValidationError) as exc:
        pickup(code, now=NOW + dt.timedelta(minutes=2))
    assert refused(exc)[0] == "code_used"
    # The code is spent for senders too.
    with pytest.raises(ValidationError) as exc:
        upload(cert, code, now=NOW + dt.timedelta(minutes=3))
    assert refused(exc) == ("code_used", en(copying.ERR_CODE_USED))

    copy_events = AuditEvent.objects.filter(action__startswith="certificate.copy_").order_by("pk")
    actions = list(copy_events.values_list("action", flat=True))
    assert actions[:3] == ["certificate.copy_started", "certificate.copy_uploaded", "certificate.copy_picked_up"]
    uploaded = AuditEvent.objects.get(action="certificate.copy_uploaded")
    assert uploaded.customer_ref == alice.pk and uploaded.details == {"serial": str(ALICE_SERIAL)}
    everything = json.dumps([event.details for event in AuditEvent.objects.all()])
    assert code not in everything and base64.b64encode(key[:30]).decode()[:20] not in everything


def test_a_code_takes_one_upload(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    upload(cert, code)
    with pytest.raises(ValidationError) as exc:
        upload(cert, code)
    assert refused(exc) == ("already_uploaded", en(copying.ERR_ALREADY_UPLOADED))


def test_upload_at_exactly_five_minutes_is_accepted_and_a_second_later_refused(cert) -> None:  # type: ignore[no-untyped-def]
    on_time, late = start(), start(session_key=OTHER)
    upload(cert, on_time, now=NOW + COPY_LIFETIME)
    with pytest.raises(ValidationError) as exc:
        upload(cert, late, now=NOW + COPY_LIFETIME + dt.timedelta(seconds=1))
    code, message = refused(exc)
    assert code == "code_expired" and "new code" in message
    assert the_copy(late).payload is None and the_copy(late).uploaded_at is None


def test_pickup_at_exactly_five_minutes_works_and_a_second_later_is_refused_and_emptied(cert) -> None:  # type: ignore[no-untyped-def]
    on_time, late = start(), start(session_key=OTHER)
    upload(cert, on_time)
    upload(cert, late)
    assert pickup(on_time, now=NOW + COPY_LIFETIME).certificate_der == cert.der
    with pytest.raises(ValidationError) as exc:
        pickup(late, session_key=OTHER, now=NOW + COPY_LIFETIME + dt.timedelta(seconds=1))
    assert refused(exc)[0] == "code_expired"
    row = the_copy(late)
    assert row.payload is None and row.picked_up_at is None  # emptied, and the emptying stayed committed
    assert AuditEvent.objects.filter(action="certificate.copy_expired").count() == 1


def test_status_reports_expiry_to_the_second_and_empties_an_expired_payload(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    assert status(code) == CopyState.WAITING
    upload(cert, code)
    assert status(code, now=NOW + COPY_LIFETIME) == CopyState.UPLOADED
    assert the_copy(code).payload is not None
    assert status(code, now=NOW + COPY_LIFETIME + dt.timedelta(seconds=1)) == CopyState.EXPIRED
    assert the_copy(code).payload is None


def test_pickup_before_the_upload_says_nothing_has_arrived(db) -> None:  # type: ignore[no-untyped-def]
    code = start()
    with pytest.raises(ValidationError) as exc:
        pickup(code)
    assert refused(exc)[0] == "not_uploaded"
    assert the_copy(code).picked_up_at is None


def test_another_session_can_neither_see_nor_pick_up_the_copy(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    upload(cert, code)
    with pytest.raises(ValidationError) as exc:
        status(code, session_key=OTHER)
    assert refused(exc)[0] == "other_session"
    with pytest.raises(ValidationError) as exc:
        pickup(code, session_key=OTHER)
    assert refused(exc) == ("other_session", en(copying.ERR_OTHER_SESSION))
    with pytest.raises(ValidationError):
        pickup(code, session_key="")
    assert the_copy(code).payload is not None  # still there for its owner
    assert pickup(code).certificate_der == cert.der


# --- what the sender may upload ---------------------------------------------------------------------


def test_a_plain_private_key_is_refused_and_nothing_is_stored(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    with pytest.raises(ValidationError) as exc:
        upload(cert, code, key=plain_key(cert.key))
    code_, message = refused(exc)
    assert code_ == "plain_key" and "signPri.key" in message
    row = the_copy(code)
    assert row.payload is None and row.uploaded_at is None
    event = AuditEvent.objects.get(action="certificate.copy_refused")
    assert event.details == {"step": "upload", "reason": "plain_key", "serial": ""}
    upload(cert, code)  # the code is still good for the right file


@pytest.mark.parametrize(
    "key",
    [b"", b"\x30\x03\x02\x01\x00", b"garbage", b"\x30\x82\xff\xff", b"\x30\x00"],
    ids=["empty", "short-sequence", "not-der", "truncated", "empty-sequence"],
)
def test_a_key_that_is_not_an_encrypted_private_key_is_refused(cert, key: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        upload(cert, start(), key=key)
    assert refused(exc)[0] in {"bad_key", "plain_key"}


def test_a_key_encrypted_with_another_scheme_than_pbes2_is_refused(cert) -> None:  # type: ignore[no-untyped-def]
    key = bytearray(encrypted_key(cert.key))
    oid = bytes.fromhex("2a864886f70d01050d")  # 1.2.840.113549.1.5.13
    at = bytes(key).index(oid)
    key[at + len(oid) - 1] = 0x03  # pbeWithMD5AndDES-CBC
    with pytest.raises(ValidationError) as exc:
        upload(cert, start(), key=bytes(key))
    assert refused(exc)[0] == "bad_key"


def test_a_certificate_that_is_not_ours_or_not_usable_is_refused(cert, alice) -> None:  # type: ignore[no-untyped-def]
    code = start()
    with pytest.raises(ValidationError) as exc:
        copy_upload(
            code=code,
            certificate_der=b"\x30\x03abc",
            encrypted_key_der=encrypted_key(cert.key),
            client_ip=IP,
            actor=ACTOR,
            now=NOW,
        )
    assert refused(exc)[0] == "bad_certificate"

    cert.row.certificate_der = cert.der[:-1] + bytes([cert.der[-1] ^ 1])  # our row, another DER
    cert.row.save(update_fields=["certificate_der"])
    with pytest.raises(ValidationError) as exc:
        upload(cert, code)
    assert refused(exc)[0] == "not_ours"
    cert.row.certificate_der = cert.der
    cert.row.revoked_at, cert.row.status = NOW, Certificate.Status.REVOKED
    cert.row.revocation_reason = Certificate.RevocationReason.KEY_COMPROMISE
    cert.row.save()
    with pytest.raises(ValidationError) as exc:
        upload(cert, code)
    assert refused(exc)[0] == "revoked"
    assert the_copy(code).uploaded_at is None


def test_an_expired_certificate_is_refused_after_its_last_second(cert) -> None:  # type: ignore[no-untyped-def]
    last_second = cert.row.not_after
    code = start(now=last_second - dt.timedelta(seconds=10))
    upload(cert, code, now=last_second)
    late = start(session_key=OTHER, now=last_second - dt.timedelta(seconds=10))
    with pytest.raises(ValidationError) as exc:
        upload(cert, late, now=last_second + dt.timedelta(seconds=1))
    assert refused(exc)[0] == "certificate_expired"


def test_oversized_files_are_refused(cert) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        upload(cert, start(), key=b"\x30" * (copying.KEY_MAX_BYTES + 1))
    assert refused(exc)[0] == "too_large"


# --- wrong codes and the throttle -------------------------------------------------------------------


@pytest.mark.parametrize("code", ["000000000000", "12345", "", "abcdabcdabcd"])
def test_an_unknown_or_malformed_code_is_refused(cert, code: str) -> None:  # type: ignore[no-untyped-def]
    start()
    with pytest.raises(ValidationError) as exc:
        upload(cert, code)
    assert refused(exc) == ("code_unknown", en(copying.ERR_CODE_UNKNOWN))


def test_nine_wrong_codes_leave_copying_open_and_the_tenth_pauses_the_address(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    for n in range(WRONG_CODE_LIMIT - 1):
        with pytest.raises(ValidationError):
            upload(cert, f"{n:012d}")
    assert not copying.copy_paused(IP)
    assert AuditEvent.objects.filter(action="certificate.copy_paused").count() == 0

    with pytest.raises(ValidationError) as exc:
        upload(cert, "999999999999")
    assert refused(exc)[0] == "code_unknown"  # the tenth is answered, then the pause starts
    assert copying.copy_paused(IP)
    with pytest.raises(ValidationError) as exc:
        upload(cert, code)  # even the right code waits
    reason, message = refused(exc)
    assert reason == "paused" and "15 minutes" in message
    assert the_copy(code).uploaded_at is None
    # The receiver's own code still works; foreign look-ups from the address are paused too.
    assert status(code) == CopyState.WAITING
    with pytest.raises(ValidationError) as exc:
        status("999999999999")
    assert refused(exc)[0] == "paused"
    assert AuditEvent.objects.filter(action="certificate.copy_paused").count() == 1
    # Another address is not affected.
    upload(cert, code, client_ip=OTHER_IP)


def test_the_right_code_after_nine_wrong_ones_is_accepted(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    for n in range(WRONG_CODE_LIMIT - 1):
        with pytest.raises(ValidationError):
            upload(cert, f"{n:012d}")
    upload(cert, code)
    assert the_copy(code).uploaded_at == NOW


def test_looking_up_another_sessions_code_counts_as_a_wrong_code(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    for _n in range(WRONG_CODE_LIMIT):
        with pytest.raises(ValidationError):
            pickup(code, session_key=OTHER)
    assert copying.copy_paused(IP)


def test_refusals_for_a_bad_file_do_not_count_as_wrong_codes(cert) -> None:  # type: ignore[no-untyped-def]
    code = start()
    for _n in range(WRONG_CODE_LIMIT + 2):
        with pytest.raises(ValidationError):
            upload(cert, code, key=plain_key(cert.key))
    assert not copying.copy_paused(IP)
    upload(cert, code)
