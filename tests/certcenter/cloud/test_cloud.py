"""The financial certificate cloud through its interface: issue, sign with the PIN, lockout, expiry,
renewal, revocation, finding by name and phone, registration at other institutions."""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from bankportal.audit.models import AuditEvent
from certcenter import ca
from certcenter.cloud.api import CertificateStatus, CloudRefused, Refusal, financial_cloud
from certcenter.cloud.local import LocalCloud
from certcenter.cloud.models import CloudCertificate as Record
from tests.certcenter.cloud.conftest import (
    BANK,
    BIRTH,
    ENROLLED_AT,
    EXPIRY,
    NAME,
    OTHER_BANK,
    PHONE,
    PIN,
    WRONG_PIN,
    certificate_for,
    enroll,
    issue,
)

pytestmark = pytest.mark.django_db
LATER = ENROLLED_AT + dt.timedelta(days=30)


def _refusal(call, **arguments) -> CloudRefused:  # type: ignore[no-untyped-def]
    with pytest.raises(CloudRefused) as caught:
        call(**arguments)
    return caught.value


def _verifies(signed, data: bytes, chain, now: dt.datetime) -> bool:  # type: ignore[no-untyped-def]
    certificate = ca.load_certificate(signed.certificate_der)
    ca.verify_chain(certificate, issuing=chain.issuing.certificate, root=chain.root.certificate, now=now)
    return ca.verify_signature(certificate, data, signed.signature)


def _actions(cloud_id: uuid.UUID) -> list[str]:
    events = AuditEvent.objects.filter(details__cloud_id=str(cloud_id)).order_by("id")
    return [event.action for event in events]


# --- the interface ---------------------------------------------------------------------------------------


def test_financial_cloud_is_the_configured_local_cloud(settings):
    assert isinstance(financial_cloud(), LocalCloud)
    settings.FINANCIAL_CLOUD = "certcenter.cloud.nowhere.Cloud"
    with pytest.raises(ImproperlyConfigured, match="FINANCIAL_CLOUD"):
        financial_cloud()


# --- issue -----------------------------------------------------------------------------------------------


def test_enrolment_makes_a_key_in_the_cloud_waiting_for_its_certificate(cloud):
    enrollment = enroll(cloud)
    assert ca.load_public_key(enrollment.public_key_der).key_size == 2048
    state = cloud.status(cloud_id=enrollment.cloud_id)
    assert state.status == CertificateStatus.PENDING
    assert (state.serial, state.not_after, state.certificate_der) == ("", None, b"")
    assert state.registered == (BANK,)
    assert _actions(enrollment.cloud_id) == ["fincloud.enroll"]
    # A pending key cannot sign yet.
    refused = _refusal(cloud.sign, cloud_id=enrollment.cloud_id, pin=PIN, data=b"x", now=LATER)
    assert refused.code == Refusal.NOT_ACTIVE


def test_attaching_the_certificate_makes_it_active_and_signing_verifies(cloud, chain):
    state = issue(cloud, chain)
    assert state.status == CertificateStatus.ACTIVE
    assert state.not_after == EXPIRY
    assert state.serial and state.serial.isdigit()
    assert "Dasom Test Issuing CA" in state.issuer
    assert (state.wrong_pins, state.tries_left) == (0, 5)

    signed = cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"login nonce 42", now=LATER)

    assert signed.certificate_der == state.certificate_der
    assert _verifies(signed, b"login nonce 42", chain, LATER)
    assert not ca.verify_signature(ca.load_certificate(signed.certificate_der), b"login nonce 43", signed.signature)
    assert _actions(state.cloud_id) == ["fincloud.enroll", "fincloud.attach", "fincloud.sign"]


def test_a_certificate_for_another_key_is_refused(cloud, chain):
    mine, other = enroll(cloud), enroll(cloud)
    refused = _refusal(
        cloud.attach_certificate,
        cloud_id=mine.cloud_id,
        certificate_der=certificate_for(chain, other),
        now=ENROLLED_AT,
    )
    assert refused.code == Refusal.KEY_MISMATCH
    assert cloud.status(cloud_id=mine.cloud_id).status == CertificateStatus.PENDING


def test_a_certificate_is_attached_once(cloud, chain):
    enrollment = enroll(cloud)
    der = certificate_for(chain, enrollment)
    cloud.attach_certificate(cloud_id=enrollment.cloud_id, certificate_der=der, now=ENROLLED_AT)
    refused = _refusal(cloud.attach_certificate, cloud_id=enrollment.cloud_id, certificate_der=der, now=ENROLLED_AT)
    assert refused.code == Refusal.NOT_PENDING


def test_a_trivial_pin_is_refused_at_enrolment_and_nothing_is_stored(cloud):
    for pin in ("000000", "123456", "121212", "900101"):  # 900101: the holder's birth date
        assert _refusal(enroll, cloud=cloud, pin=pin).code == Refusal.TRIVIAL_PIN
    assert not Record.objects.exists()
    with pytest.raises(ValueError, match="6 ASCII digits"):
        enroll(cloud, pin="48291")
    assert enroll(cloud, pin="900102").cloud_id  # the birth date's neighbour is fine


def test_without_a_known_birth_date_the_other_pin_rules_still_apply(cloud):
    assert _refusal(enroll, cloud=cloud, pin="123456", birth_date=None).code == Refusal.TRIVIAL_PIN
    enrollment = enroll(cloud, pin="900101", birth_date=None)
    assert Record.objects.get(cloud_id=enrollment.cloud_id).birth_date is None


@pytest.mark.parametrize(
    "override",
    [{"institution": "97"}, {"holder_name": "  "}, {"phone": "02-123-4567"}, {"now": dt.datetime(2026, 3, 2)}],  # noqa: DTZ001
)
def test_malformed_arguments_raise_value_error(cloud, override):
    with pytest.raises(ValueError):
        enroll(cloud, **override)


def test_an_unknown_cloud_id_is_refused_everywhere(cloud):
    missing = uuid.uuid4()
    assert _refusal(cloud.status, cloud_id=missing).code == Refusal.UNKNOWN
    assert _refusal(cloud.status, cloud_id="not-a-uuid").code == Refusal.UNKNOWN
    assert _refusal(cloud.sign, cloud_id=missing, pin=PIN, data=b"x", now=LATER).code == Refusal.UNKNOWN
    assert _refusal(cloud.revoke, cloud_id=missing, reason="lost", now=LATER).code == Refusal.UNKNOWN
    assert _refusal(cloud.register, cloud_id=missing, institution=OTHER_BANK, now=LATER).code == Refusal.UNKNOWN
    assert AuditEvent.objects.filter(action="fincloud.sign_refused", details__refusal="unknown").count() == 1


# --- the PIN ---------------------------------------------------------------------------------------------


def test_four_wrong_pins_then_the_right_one_signs_and_resets_the_count(cloud, chain):
    state = issue(cloud, chain)
    for tries_left in (4, 3, 2, 1):
        refused = _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
        assert (refused.code, refused.tries_left) == (Refusal.WRONG_PIN, tries_left)
    assert cloud.status(cloud_id=state.cloud_id).wrong_pins == 4

    signed = cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"x", now=LATER)

    assert _verifies(signed, b"x", chain, LATER)
    after = cloud.status(cloud_id=state.cloud_id)
    assert (after.status, after.wrong_pins, after.tries_left) == (CertificateStatus.ACTIVE, 0, 5)
    # After the reset, four more wrong PINs still do not lock it.
    for _ in range(4):
        _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    assert cloud.status(cloud_id=state.cloud_id).status == CertificateStatus.ACTIVE


def test_the_fifth_wrong_pin_locks_and_says_so_and_the_right_pin_is_refused_after(cloud, chain):
    state = issue(cloud, chain)
    for _ in range(4):
        _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)

    fifth = _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)

    assert (fifth.code, fifth.tries_left) == (Refusal.LOCKED, 0)
    locked = cloud.status(cloud_id=state.cloud_id)
    assert (locked.status, locked.wrong_pins, locked.tries_left) == (CertificateStatus.LOCKED, 5, 0)
    right = _refusal(cloud.sign, cloud_id=state.cloud_id, pin=PIN, data=b"x", now=LATER)
    assert right.code == Refusal.LOCKED
    record = Record.objects.get(cloud_id=state.cloud_id)
    assert record.locked_at == LATER
    assert bytes(record.key_ciphertext) == b"" and bytes(record.pin_verifier) == b""  # reissued, never unlocked
    actions = _actions(state.cloud_id)
    assert actions.count("fincloud.locked") == 1
    assert actions.count("fincloud.sign_refused") == 6


def test_the_count_lives_on_the_record_across_devices(chain):
    """Each call is a fresh cloud object (another device, another session): the count carries on."""
    state = issue(LocalCloud(), chain)
    for device in range(3):
        _refusal(LocalCloud().sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
        del device
    assert financial_cloud().status(cloud_id=state.cloud_id).tries_left == 2
    assert Record.objects.get(cloud_id=state.cloud_id).wrong_pins == 3


def test_signing_refuses_to_run_inside_the_callers_transaction(cloud, chain):
    """The PIN check commits its own count: inside a caller's transaction (which could roll it back) it
    does not run at all, and counts nothing."""
    state = issue(cloud, chain)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        cloud.sign(cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        cloud.renew(cloud_id=state.cloud_id, pin=PIN, now=LATER)
    assert Record.objects.get(cloud_id=state.cloud_id).wrong_pins == 0


# --- validity --------------------------------------------------------------------------------------------


def test_signing_works_until_the_expiry_day_23_59_59_kst_and_not_a_second_later(cloud, chain):
    state = issue(cloud, chain)
    signed = cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"x", now=EXPIRY)
    assert _verifies(signed, b"x", chain, EXPIRY)
    # Fractions of the last second still count as 23:59:59 (X.509 times are whole seconds).
    cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"x", now=EXPIRY + dt.timedelta(microseconds=999_999))

    refused = _refusal(cloud.sign, cloud_id=state.cloud_id, pin=PIN, data=b"x", now=EXPIRY + dt.timedelta(seconds=1))

    assert refused.code == Refusal.EXPIRED
    # An expired certificate is refused before the PIN is checked: nothing is counted.
    _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=EXPIRY + dt.timedelta(days=1))
    assert cloud.status(cloud_id=state.cloud_id).wrong_pins == 0


def test_not_yet_valid_is_refused(cloud, chain):
    state = issue(cloud, chain)
    early = ENROLLED_AT - dt.timedelta(seconds=1)
    refused = _refusal(cloud.sign, cloud_id=state.cloud_id, pin=PIN, data=b"x", now=early)
    assert refused.code == Refusal.NOT_ACTIVE


# --- renewal ---------------------------------------------------------------------------------------------


def test_renewal_makes_a_new_key_and_attaching_it_supersedes_the_old_one(cloud, chain):
    old = issue(cloud, chain)
    cloud.register(cloud_id=old.cloud_id, institution=OTHER_BANK, now=LATER)
    renewed_at = EXPIRY - dt.timedelta(days=20)

    renewal = cloud.renew(cloud_id=old.cloud_id, pin=PIN, now=renewed_at)

    assert renewal.cloud_id != old.cloud_id
    old_key = ca.load_certificate(old.certificate_der).public_key()
    assert renewal.public_key_der != old_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    pending = cloud.status(cloud_id=renewal.cloud_id)
    assert (pending.status, pending.renews, pending.holder_name) == (CertificateStatus.PENDING, old.cloud_id, NAME)
    # Until the renewal is attached, the old certificate still signs.
    cloud.sign(cloud_id=old.cloud_id, pin=PIN, data=b"x", now=renewed_at)

    new = cloud.attach_certificate(
        cloud_id=renewal.cloud_id,
        certificate_der=certificate_for(chain, renewal, now=renewed_at),
        now=renewed_at,
    )

    assert new.status == CertificateStatus.ACTIVE
    assert new.registered == (BANK, OTHER_BANK)  # the registrations carry over
    assert cloud.status(cloud_id=old.cloud_id).status == CertificateStatus.SUPERSEDED
    assert bytes(Record.objects.get(cloud_id=old.cloud_id).key_ciphertext) == b""
    refused = _refusal(cloud.sign, cloud_id=old.cloud_id, pin=PIN, data=b"x", now=renewed_at)
    assert refused.code == Refusal.SUPERSEDED
    assert _verifies(cloud.sign(cloud_id=new.cloud_id, pin=PIN, data=b"y", now=renewed_at), b"y", chain, renewed_at)
    assert [c.cloud_id for c in cloud.find(holder_name=NAME, phone=PHONE)] == [new.cloud_id]
    assert "fincloud.renew" in _actions(new.cloud_id)


def test_renewal_needs_the_right_pin_and_counts_wrong_ones_like_signing(cloud, chain):
    state = issue(cloud, chain)
    _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    refused = _refusal(cloud.renew, cloud_id=state.cloud_id, pin=WRONG_PIN, now=LATER)
    assert (refused.code, refused.tries_left) == (Refusal.WRONG_PIN, 3)
    assert Record.objects.count() == 1
    assert "fincloud.renew_refused" in _actions(state.cloud_id)
    cloud.renew(cloud_id=state.cloud_id, pin=PIN, now=LATER)
    assert cloud.status(cloud_id=state.cloud_id).wrong_pins == 0


def test_a_second_renewal_abandons_the_first(cloud, chain):
    state = issue(cloud, chain)
    first = cloud.renew(cloud_id=state.cloud_id, pin=PIN, now=LATER)
    second = cloud.renew(cloud_id=state.cloud_id, pin=PIN, now=LATER)
    assert cloud.status(cloud_id=first.cloud_id).status == CertificateStatus.REVOKED
    refused = _refusal(
        cloud.attach_certificate, cloud_id=first.cloud_id, certificate_der=certificate_for(chain, first), now=LATER
    )
    assert refused.code == Refusal.NOT_PENDING
    attached = cloud.attach_certificate(
        cloud_id=second.cloud_id, certificate_der=certificate_for(chain, second), now=LATER
    )
    assert attached.status == CertificateStatus.ACTIVE


def test_locking_the_old_certificate_revokes_its_pending_renewal(cloud, chain):
    state = issue(cloud, chain)
    renewal = cloud.renew(cloud_id=state.cloud_id, pin=PIN, now=LATER)
    for _ in range(5):
        _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    assert cloud.status(cloud_id=renewal.cloud_id).status == CertificateStatus.REVOKED


# --- revocation ------------------------------------------------------------------------------------------


def test_revocation_destroys_the_key_material_and_refuses_signing(cloud, chain):
    state = issue(cloud, chain)

    revoked = cloud.revoke(cloud_id=state.cloud_id, reason="lost phone", now=LATER)

    assert revoked.status == CertificateStatus.REVOKED
    record = Record.objects.get(cloud_id=state.cloud_id)
    assert (record.revoked_at, record.revocation_reason) == (LATER, "lost phone")
    for field in ("key_nonce", "key_ciphertext", "dek_nonce", "wrapped_dek", "pin_verifier"):
        assert bytes(getattr(record, field)) == b"", field
    assert _refusal(cloud.sign, cloud_id=state.cloud_id, pin=PIN, data=b"x", now=LATER).code == Refusal.REVOKED
    assert _refusal(cloud.renew, cloud_id=state.cloud_id, pin=PIN, now=LATER).code == Refusal.REVOKED
    assert cloud.find(holder_name=NAME, phone=PHONE) == []


def test_revoking_twice_changes_nothing_the_second_time(cloud, chain):
    state = issue(cloud, chain)
    cloud.revoke(cloud_id=state.cloud_id, reason="lost phone", now=LATER)
    again = cloud.revoke(cloud_id=state.cloud_id, reason="other", now=LATER + dt.timedelta(days=1))
    assert again.status == CertificateStatus.REVOKED
    assert Record.objects.get(cloud_id=state.cloud_id).revocation_reason == "lost phone"
    assert _actions(state.cloud_id).count("fincloud.revoke") == 1


def test_revocation_takes_a_pending_renewal_with_it(cloud, chain):
    state = issue(cloud, chain)
    renewal = cloud.renew(cloud_id=state.cloud_id, pin=PIN, now=LATER)
    cloud.revoke(cloud_id=state.cloud_id, reason="lost phone", now=LATER)
    assert cloud.status(cloud_id=renewal.cloud_id).status == CertificateStatus.REVOKED


# --- finding ---------------------------------------------------------------------------------------------


def test_find_by_name_and_phone_whatever_their_spelling(cloud, chain):
    state = issue(cloud, chain)
    decomposed = unicodedata.normalize("NFD", " 김민수 ")
    assert decomposed != NAME
    for name, phone in ((NAME, PHONE), (decomposed, "01048217395"), ("김민수", "010 4821 7395")):
        assert [c.cloud_id for c in cloud.find(holder_name=name, phone=phone)] == [state.cloud_id]
    assert cloud.find(holder_name=NAME, phone="010-4821-7396") == []
    assert cloud.find(holder_name="김민주", phone=PHONE) == []
    assert cloud.find(holder_name="김민 수", phone=PHONE) == []  # a space inside a name is part of it


def test_find_lists_active_and_locked_ones_never_pending_or_revoked(cloud, chain):
    active = issue(cloud, chain)
    locked = issue(cloud, chain)
    for _ in range(5):
        _refusal(cloud.sign, cloud_id=locked.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    revoked = issue(cloud, chain)
    cloud.revoke(cloud_id=revoked.cloud_id, reason="lost phone", now=LATER)
    enroll(cloud)  # pending

    found = cloud.find(holder_name=NAME, phone=PHONE)

    assert {(c.cloud_id, c.status) for c in found} == {
        (active.cloud_id, CertificateStatus.ACTIVE),
        (locked.cloud_id, CertificateStatus.LOCKED),
    }


def test_the_phone_number_is_kept_only_as_a_blind_index(cloud):
    enrollment = enroll(cloud)
    record = Record.objects.get(cloud_id=enrollment.cloud_id)
    assert len(record.phone_index) == 64
    assert "4821" not in record.phone_index and record.birth_date == BIRTH


# --- other institutions ----------------------------------------------------------------------------------


def test_registration_at_other_institutions(cloud, chain):
    state = issue(cloud, chain)
    assert state.registered == (BANK,)

    registered = cloud.register(cloud_id=state.cloud_id, institution=OTHER_BANK, now=LATER)
    again = cloud.register(cloud_id=state.cloud_id, institution=OTHER_BANK, now=LATER)
    cloud.register(cloud_id=state.cloud_id, institution="003", now=LATER)

    assert registered.registered == again.registered == (BANK, OTHER_BANK)
    assert cloud.status(cloud_id=state.cloud_id).registered == (BANK, "003", OTHER_BANK)
    assert cloud.deregister(cloud_id=state.cloud_id, institution=OTHER_BANK, now=LATER).registered == (BANK, "003")
    assert cloud.deregister(cloud_id=state.cloud_id, institution=OTHER_BANK, now=LATER).registered == (BANK, "003")
    actions = _actions(state.cloud_id)
    assert (actions.count("fincloud.register"), actions.count("fincloud.deregister")) == (2, 1)


def test_a_certificate_issued_through_another_institution_registers_here(cloud, chain):
    theirs = issue(cloud, chain, institution=OTHER_BANK)
    assert (theirs.institution, theirs.registered) == (OTHER_BANK, (OTHER_BANK,))
    assert cloud.register(cloud_id=theirs.cloud_id, institution=BANK, now=LATER).registered == (OTHER_BANK, BANK)


def test_registration_needs_a_usable_certificate(cloud, chain):
    expired = issue(cloud, chain)
    after = EXPIRY + dt.timedelta(seconds=1)
    assert _refusal(cloud.register, cloud_id=expired.cloud_id, institution=OTHER_BANK, now=after).code == "expired"
    assert cloud.register(cloud_id=expired.cloud_id, institution=OTHER_BANK, now=EXPIRY).registered[-1] == OTHER_BANK
    pending = enroll(cloud)
    refused = _refusal(cloud.register, cloud_id=pending.cloud_id, institution=OTHER_BANK, now=LATER)
    assert refused.code == Refusal.NOT_ACTIVE
    revoked = issue(cloud, chain)
    cloud.revoke(cloud_id=revoked.cloud_id, reason="lost phone", now=LATER)
    assert _refusal(cloud.register, cloud_id=revoked.cloud_id, institution=OTHER_BANK, now=LATER).code == "revoked"


# --- the audit trail -------------------------------------------------------------------------------------


def test_every_event_names_the_cloud_and_carries_no_secret(cloud, chain):
    state = issue(cloud, chain)
    _refusal(cloud.sign, cloud_id=state.cloud_id, pin=WRONG_PIN, data=b"x", now=LATER)
    cloud.sign(cloud_id=state.cloud_id, pin=PIN, data=b"x", now=LATER)
    events = list(AuditEvent.objects.filter(action__startswith="fincloud."))
    assert {event.actor_label for event in events} == {"system:fincloud"}
    refused = next(event for event in events if event.action == "fincloud.sign_refused")
    assert refused.details == {
        "cloud_id": str(state.cloud_id),
        "institution": BANK,
        "serial": state.serial,
        "refusal": "wrong_pin",
    }
    for event in events:
        text = str(event.details)
        assert PIN not in text and WRONG_PIN not in text and "4821" not in text and NAME not in text
