"""Financial certificates (금융인증서), the bank's side: issue through the cloud, PIN signatures and their
lockout, login from any device with name + mobile number + PIN, renewal in its window, revocation,
and a transfer signed with the PIN.

The cloud counts wrong PINs in its own committed transaction, so these tests run outside the test's
wrapping transaction (``transaction=True``)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation

from accounts.limits import Tier
from accounts.models import Journal, Transfer
from accounts.services import transfers as transfer_service
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.timeutil import KST
from certcenter import ca, rules
from certcenter.cloud.api import CertificateStatus, financial_cloud
from certcenter.models import Certificate, CertificateAuthority, SignatureEvidence
from certcenter.services import certificate_revoke, certificates_daily
from certcenter.services.financial import (
    ERR_LOCKED,
    ERR_NO_CERTIFICATE,
    ERR_PIN_TRIVIAL,
    ERR_RENEWAL_WINDOW,
    ERR_WRONG_PIN,
    financial_issue,
    financial_login,
    financial_renew,
    financial_sign,
    financial_transfer_signature,
)
from certcenter.services.login import certificate_login_actor, certificate_login_challenge
from tests.accounts.release_signing import CERT_WEB
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=KST)
PIN = "482915"
OTHER_PIN = "730264"
SESSION = "s" * 32


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    return open_banking(alice, teller=teller, product=demand_product, username="alice2026", certificate=False)


def issue(banker: Banker, pin: str = PIN, *, now: dt.datetime = T0) -> Certificate:
    return financial_issue(
        agreement=banker.agreement, pin=pin, pin_again=pin, medium_verified=True, actor=CERT_WEB, now=now
    ).certificate


def codes(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return exc.value.code or ""


def english(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    with translation.override("en"):
        return " ".join(exc.value.messages)


def en(message: object, **params: object) -> str:
    with translation.override("en"):
        return str(message) % params if params else str(message)


def sign(banker: Banker, pin: str, text: str = "amount=1000", *, now: dt.datetime = T0) -> SignatureEvidence:
    return financial_sign(customer=banker.customer, pin=pin, text=text, purpose="transfer", actor=banker.user, now=now)


# --- issue ---------------------------------------------------------------------------------------------


def test_the_certificate_is_ours_for_three_years_free_and_its_key_stays_in_the_cloud(alice_bank) -> None:
    journals = Journal.objects.count()
    row = issue(alice_bank)
    assert (row.kind, row.storage, row.status) == ("financial", "cloud", "valid")
    cert = x509.load_der_x509_certificate(bytes(row.certificate_der))
    assert cert.not_valid_after_utc.astimezone(KST) == dt.datetime(2029, 11, 24, 23, 59, 59, tzinfo=KST)
    issuing = CertificateAuthority.objects.get(role=CertificateAuthority.Role.ISSUING, is_active=True)
    assert row.issuer == issuing
    cert.verify_directly_issued_by(ca.load_certificate(issuing.certificate_pem.encode("ascii")))
    assert ca.certificate_kind(cert) == ca.CertificateKind.FINANCIAL
    assert Journal.objects.count() == journals  # no fee
    in_cloud = financial_cloud().status(cloud_id=row.cloud_id)
    assert in_cloud.status == CertificateStatus.ACTIVE and in_cloud.serial == row.serial
    assert in_cloud.registered == (settings.BANK_CODE,)
    assert AuditEvent.objects.filter(action="certificate.financial_issue", object_id=str(row.pk)).count() == 1
    sms = Notification.objects.filter(purpose="certificate_issue").latest("pk")
    assert "cloud" in sms.body or "클라우드" in sms.body


@pytest.mark.parametrize(
    ("pin", "again", "code"),
    [("48291", "48291", "pin_format"), ("48291a", "48291a", "pin_format"), (PIN, OTHER_PIN, "pin_mismatch")]
    + [(trivial, trivial, "trivial_pin") for trivial in ("000000", "123456", "987654", "121212")],
)
def test_a_bad_or_trivial_pin_is_refused_and_nothing_is_written(alice_bank, pin, again, code) -> None:
    with pytest.raises(ValidationError) as exc:
        financial_issue(agreement=alice_bank.agreement, pin=pin, pin_again=again, medium_verified=True, actor=CERT_WEB)
    assert codes(exc) == code
    if code == "trivial_pin":
        assert english(exc) == en(ERR_PIN_TRIVIAL)
    assert not Certificate.objects.financial().exists()


def test_without_the_security_medium_nothing_is_issued(alice_bank) -> None:
    with pytest.raises(ValidationError) as exc:
        financial_issue(agreement=alice_bank.agreement, pin=PIN, pin_again=PIN, medium_verified=False, actor=CERT_WEB)
    assert codes(exc) == "medium_not_verified"
    assert not Certificate.objects.financial().exists()


def test_a_new_financial_certificate_replaces_the_current_one_in_the_register_and_the_cloud(alice_bank) -> None:
    first = issue(alice_bank)
    second = issue(alice_bank, OTHER_PIN)
    first.refresh_from_db()
    assert first.status == "revoked" and first.revocation_reason == "superseded"
    assert financial_cloud().status(cloud_id=first.cloud_id).status == CertificateStatus.REVOKED
    assert sign(alice_bank, OTHER_PIN).certificate == second


# --- the PIN -------------------------------------------------------------------------------------------


def test_a_pin_signature_verifies_with_the_certificate_and_is_kept_as_evidence(alice_bank) -> None:
    row = issue(alice_bank)
    evidence = sign(alice_bank, PIN, "amount=50000\nto=088-110-123456")
    assert evidence.certificate == row and evidence.text == "amount=50000\nto=088-110-123456"
    cert = x509.load_der_x509_certificate(bytes(row.certificate_der))
    cert.public_key().verify(bytes(evidence.signature), evidence.text.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_four_wrong_pins_then_the_right_one_signs_and_resets_the_count(alice_bank) -> None:
    row = issue(alice_bank)
    for left in (4, 3, 2, 1):
        with pytest.raises(ValidationError) as exc:
            sign(alice_bank, OTHER_PIN)
        assert codes(exc) == "wrong_pin"
        assert english(exc) == en(ERR_WRONG_PIN, left=left)
    sign(alice_bank, PIN)
    assert financial_cloud().status(cloud_id=row.cloud_id).wrong_pins == 0
    with pytest.raises(ValidationError) as exc:  # the count starts again from 5
        sign(alice_bank, OTHER_PIN)
    assert "4 more" in english(exc)


def test_the_fifth_wrong_pin_locks_and_then_even_the_right_pin_is_refused(alice_bank) -> None:
    issue(alice_bank)
    for _ in range(4):
        with pytest.raises(ValidationError):
            sign(alice_bank, OTHER_PIN)
    with pytest.raises(ValidationError) as exc:
        sign(alice_bank, OTHER_PIN)
    assert codes(exc) == "locked" and english(exc) == en(ERR_LOCKED)
    with pytest.raises(ValidationError) as exc:
        sign(alice_bank, PIN)
    assert codes(exc) == "locked"
    assert not SignatureEvidence.objects.exists()
    # A locked certificate is replaced by a new issue, never unlocked.
    issue(alice_bank, OTHER_PIN)
    assert sign(alice_bank, OTHER_PIN).certificate.status == "valid"


def test_the_expiry_day_2359_59_kst_signs_and_the_next_second_is_refused(alice_bank, clock) -> None:
    issue(alice_bank)
    last = dt.datetime(2029, 11, 24, 23, 59, 59, tzinfo=KST)
    clock.move_to(last)
    assert sign(alice_bank, PIN, now=last)
    after = last + dt.timedelta(seconds=1)
    clock.move_to(after)
    with pytest.raises(ValidationError) as exc:
        sign(alice_bank, PIN, now=after)
    assert codes(exc) == "no_financial_certificate"  # no longer in use: issue a new one


# --- login from any device -----------------------------------------------------------------------------


def _login(name: str, phone: str, pin: str) -> object:
    challenge = certificate_login_challenge(session_key=SESSION, actor=certificate_login_actor(), now=T0)
    return financial_login(
        holder_name=name,
        phone=phone,
        pin=pin,
        challenge_nonce=challenge.nonce,  # type: ignore[attr-defined]
        session_key=SESSION,
        actor=certificate_login_actor(),
        now=T0,
    )


def test_name_mobile_number_and_pin_log_in_as_the_agreement_user(alice_bank) -> None:
    row = issue(alice_bank)
    result = _login("김앨리스", "010-8642-9753", PIN)
    assert result.user == alice_bank.user and result.certificate == row  # type: ignore[attr-defined]
    assert SignatureEvidence.objects.filter(purpose="login", certificate=row).count() == 1


def test_another_mobile_number_finds_nothing_and_a_wrong_pin_counts(alice_bank) -> None:
    row = issue(alice_bank)
    with pytest.raises(ValidationError) as exc:
        _login("김앨리스", "010-1111-2222", PIN)
    assert codes(exc) == "no_financial_certificate" and english(exc) == en(ERR_NO_CERTIFICATE)
    with pytest.raises(ValidationError) as exc:
        _login("김앨리스", "01086429753", OTHER_PIN)
    assert codes(exc) == "wrong_pin"
    assert financial_cloud().status(cloud_id=row.cloud_id).wrong_pins == 1


# --- renewal -------------------------------------------------------------------------------------------


def test_renewal_opens_at_0000_kst_one_month_before_the_expiry_day(alice_bank, clock) -> None:
    row = issue(alice_bank)
    before = dt.datetime(2029, 10, 23, 23, 59, 59, tzinfo=KST)
    clock.move_to(before)
    with pytest.raises(ValidationError) as exc:
        financial_renew(certificate=row, pin=PIN, actor=alice_bank.user, now=before)
    assert codes(exc) == "renewal_window"
    assert english(exc) == en(ERR_RENEWAL_WINDOW, start="2029-10-24", end="2029-11-24")
    opens = dt.datetime(2029, 10, 24, 0, 0, tzinfo=KST)
    clock.move_to(opens)
    renewed = financial_renew(certificate=row, pin=PIN, actor=alice_bank.user, now=opens).certificate
    row.refresh_from_db()
    assert row.status == "revoked" and row.revocation_reason == "superseded"
    assert renewed.not_after == dt.datetime(2032, 10, 24, 23, 59, 59, tzinfo=KST)
    assert financial_cloud().status(cloud_id=row.cloud_id).status != CertificateStatus.ACTIVE
    assert sign(alice_bank, PIN, now=opens).certificate == renewed  # the same PIN unlocks the new key


def test_renewal_on_the_expiry_day_works_and_the_next_day_is_refused(alice_bank, clock) -> None:
    row = issue(alice_bank)
    after = dt.datetime(2029, 11, 25, 0, 0, tzinfo=KST)
    clock.move_to(after)
    with pytest.raises(ValidationError) as exc:
        financial_renew(certificate=row, pin=PIN, actor=alice_bank.user, now=after)
    assert codes(exc) == "renewal_window"
    last = dt.datetime(2029, 11, 24, 23, 59, 59, tzinfo=KST)
    clock.move_to(last)
    assert financial_renew(certificate=row, pin=PIN, actor=alice_bank.user, now=last).certificate.status == "valid"


def test_a_wrong_pin_at_renewal_counts_and_renews_nothing(alice_bank, clock) -> None:
    row = issue(alice_bank)
    opens = dt.datetime(2029, 10, 24, 0, 0, tzinfo=KST)
    clock.move_to(opens)
    with pytest.raises(ValidationError) as exc:
        financial_renew(certificate=row, pin=OTHER_PIN, actor=alice_bank.user, now=opens)
    assert codes(exc) == "wrong_pin"
    assert Certificate.objects.financial().count() == 1
    assert financial_cloud().status(cloud_id=row.cloud_id).wrong_pins == 1


# --- revocation ----------------------------------------------------------------------------------------


def test_the_customer_revokes_a_lost_phones_certificate_and_the_cloud_key_is_gone(alice_bank) -> None:
    row = issue(alice_bank)
    certificate_revoke(certificate=row, reason="key_compromise", actor=alice_bank.user)
    row.refresh_from_db()
    assert row.status == "revoked"
    assert financial_cloud().status(cloud_id=row.cloud_id).status == CertificateStatus.REVOKED
    with pytest.raises(ValidationError) as exc:
        sign(alice_bank, PIN)
    assert codes(exc) == "no_financial_certificate"
    sms = Notification.objects.filter(purpose="certificate_revoke").latest("pk")
    assert "financial" in sms.body or "금융인증서" in sms.body


# --- a transfer signed with the PIN ----------------------------------------------------------------------


def test_a_transfer_signed_with_the_pin_goes_through_and_keeps_the_evidence(alice_bank, teller, demand_product) -> None:
    from accounts import services as accounts_services

    issue(alice_bank)
    bob_account = accounts_services.account_open(
        customer=alice_bank.customer, product=demand_product, password="4826", opening_deposit=0, actor=teller
    )
    key = uuid.UUID(new_key())
    recipient = transfer_service.transfer_recipient(
        customer=alice_bank.customer, destination="own", to_account_number=bob_account.number
    )
    text = transfer_service.transfer_canonical_text(
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        recipient=recipient,
        amount=30_000,
        memo_sender="",
        memo_recipient="",
        idempotency_key=key,
    )
    evidence = sign(alice_bank, PIN, text)
    transfer = transfer_service.transfer_execute(
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        destination="own",
        to_account_number=bob_account.number,
        amount=30_000,
        idempotency_key=key,
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=financial_transfer_signature(evidence),
        actor=alice_bank.user,
    )
    assert transfer.status == Transfer.Status.COMPLETED and transfer.signature_evidence_id == evidence.pk
    # A signature over other details does not carry another transfer.
    with pytest.raises(ValidationError) as exc:
        transfer_service.transfer_execute(
            customer=alice_bank.customer,
            from_account=alice_bank.account,
            destination="own",
            to_account_number=bob_account.number,
            amount=40_000,
            idempotency_key=uuid.UUID(new_key()),
            tier=Tier.GENERAL,
            medium_verified=True,
            signature=financial_transfer_signature(evidence),
            actor=alice_bank.user,
        )
    assert codes(exc) == "signature_required"


# --- renewal notices -----------------------------------------------------------------------------------

JOB = system_actor("test_certificates_daily", ["certcenter.change_certificate"])


def _daily(day: dt.date) -> tuple[int, int, list[str]]:
    before = set(Notification.objects.values_list("pk", flat=True))
    summary = certificates_daily(actor=JOB, now=dt.datetime.combine(day, dt.time(9, 0), tzinfo=KST))
    bodies = list(Notification.objects.exclude(pk__in=before).order_by("pk").values_list("body", flat=True))
    return summary.renewal_notices, summary.expiry_reminders, bodies


def test_notices_start_one_month_before_and_go_once_per_stage(alice_bank) -> None:
    issue(alice_bank)  # expires 2029-11-24
    assert _daily(dt.date(2029, 10, 23))[:2] == (0, 0)
    notices, reminders, bodies = _daily(dt.date(2029, 10, 24))
    assert (notices, reminders) == (1, 0) and "2029-11-24" in bodies[0] and "금융인증서" in bodies[0]
    assert _daily(dt.date(2029, 10, 24))[:2] == (0, 0)  # a rerun sends nothing
    assert _daily(dt.date(2029, 11, 16))[:2] == (0, 0)
    notices, reminders, bodies = _daily(dt.date(2029, 11, 17))
    assert (notices, reminders) == (0, 1) and "금융인증서" in bodies[0]
    assert _daily(dt.date(2029, 11, 18))[:2] == (0, 0)


def test_the_financial_window_rule_matches_the_job_on_every_day_for_two_years() -> None:
    """``financial_window_open_through`` is the inverse of the window's opening day, month ends included."""
    start = dt.date(2027, 1, 1)
    for offset in range(730):
        today = start + dt.timedelta(days=offset)
        horizon = rules.financial_window_open_through(today)
        for ahead in (0, 27, 28, 29, 30, 31, 32, 33):
            expiry = today + dt.timedelta(days=ahead)
            not_after = dt.datetime.combine(expiry, dt.time(23, 59, 59), tzinfo=KST)
            opened = rules.financial_renewal_opens_at(not_after).date() <= today
            assert opened == (expiry <= horizon), (today, expiry)


# --- another institution's financial certificate -------------------------------------------------------

OTHER_INSTITUTION = "088"


def _issued_elsewhere(banker: Banker, pin: str = PIN) -> uuid.UUID:
    """A financial certificate the cloud holds for the customer, issued through another institution
    whose CA we trust (its own CA signs it, not ours)."""
    from cryptography.hazmat.primitives import serialization

    from certcenter.services import external
    from tests.certcenter.external_pki import other_bank_ca

    material = other_bank_ca(T0 - dt.timedelta(days=30))
    external.trusted_authority_add(
        certificate=ca.certificate_pem(material.certificate), actor=external.trust_command_actor("test"), now=T0
    )
    cloud = financial_cloud()
    customer = banker.customer
    enrolment = cloud.enroll(
        institution=OTHER_INSTITUTION,
        holder_name=customer.name,
        phone=customer.phone,
        birth_date=customer.birth_date,
        pin=pin,
        now=T0,
    )
    cert = ca.issue_customer_certificate(
        issuer=material,
        public_key=serialization.load_der_public_key(enrolment.public_key_der),
        subject_common_name=customer.name,
        serial=rules.new_serial(),
        kind=ca.CertificateKind.FINANCIAL,
        identity=None,
        urls=ca.PkiUrls(crl="https://other.example/crl", ocsp="https://other.example/ocsp", ca_issuer=""),
        now=T0,
        years=3,
    )
    cloud.attach_certificate(cloud_id=enrolment.cloud_id, certificate_der=ca.certificate_der(cert), now=T0)
    return enrolment.cloud_id


def _register(banker: Banker, cloud_id: uuid.UUID, pin: str = PIN) -> object:
    from certcenter.services import external
    from certcenter.services.financial import financial_register_other

    text = external.external_registration_text(user_id="alice2026", nonce="n" * 22, issued_at=T0)
    return financial_register_other(
        agreement=banker.agreement,
        cloud_id=cloud_id,
        pin=pin,
        text=text,
        medium_verified=True,
        additional_auth=lambda: object(),
        actor=external.external_web_actor(),
        now=T0,
    )


def test_another_institutions_financial_certificate_is_registered_here_and_then_logs_in(alice_bank) -> None:
    from certcenter.services.financial import financial_certificates_elsewhere

    cloud_id = _issued_elsewhere(alice_bank)
    with pytest.raises(ValidationError) as exc:  # not registered here yet: no login
        _login("김앨리스", "010-8642-9753", PIN)
    assert codes(exc) == "no_financial_certificate"
    assert [item.cloud_id for item in financial_certificates_elsewhere(alice_bank.customer)] == [cloud_id]
    row = _register(alice_bank, cloud_id)
    assert row.cloud_id == cloud_id and row.status == "registered"  # type: ignore[attr-defined]
    assert settings.BANK_CODE in financial_cloud().status(cloud_id=cloud_id).registered
    assert financial_certificates_elsewhere(alice_bank.customer) == []
    result = _login("김앨리스", "010-8642-9753", PIN)
    assert result.user == alice_bank.user  # type: ignore[attr-defined]


def test_registering_with_a_wrong_pin_counts_and_registers_nothing(alice_bank) -> None:
    from certcenter.models import ExternalCertificate

    cloud_id = _issued_elsewhere(alice_bank)
    with pytest.raises(ValidationError) as exc:
        _register(alice_bank, cloud_id, OTHER_PIN)
    assert codes(exc) == "wrong_pin"
    assert not ExternalCertificate.objects.exists()
    assert financial_cloud().status(cloud_id=cloud_id).wrong_pins == 1
    with pytest.raises(ValidationError) as exc:  # an id the list does not offer (ours, someone else's, made up)
        _register(alice_bank, uuid.uuid4())
    assert codes(exc) == "not_offered"


def test_staff_revoke_a_financial_certificate_only_with_a_managers_approval(alice_bank, teller, manager) -> None:
    from django.core.exceptions import PermissionDenied

    from accounts import services as accounts_services
    from accounts.models import StaffRequest

    row = issue(alice_bank)
    request = accounts_services.staff_request_create(
        kind=StaffRequest.Kind.CERTIFICATE_REVOKE,
        customer=alice_bank.customer,
        payload={"certificate": row.pk, "reason": "key_compromise"},
        reason="Customer reports the phone stolen",
        actor=teller,
    )
    with pytest.raises(PermissionDenied):  # the teller who recorded it cannot approve it
        accounts_services.staff_request_approve(request=request, actor=teller)
    assert financial_cloud().status(cloud_id=row.cloud_id).status == CertificateStatus.ACTIVE
    accounts_services.staff_request_approve(request=request, actor=manager)
    row.refresh_from_db()
    assert row.status == "revoked" and row.revocation_reason == "key_compromise"
    assert financial_cloud().status(cloud_id=row.cloud_id).status == CertificateStatus.REVOKED


def test_a_customer_without_a_mobile_number_gets_none(alice_bank) -> None:
    from accounts.models import Customer

    Customer.objects.filter(pk=alice_bank.customer.pk).update(phone="0212345678")  # a landline
    with pytest.raises(ValidationError) as exc:
        issue(alice_bank)
    assert codes(exc) == "no_mobile"
    assert not Certificate.objects.financial().exists()


def test_a_corporation_is_told_to_use_a_joint_certificate(clock, acme, teller, demand_product) -> None:
    ca_ready()
    corporate = open_banking(acme, teller=teller, product=demand_product, username="acme2026", certificate=False)
    with pytest.raises(ValidationError) as exc:
        issue(corporate)
    assert codes(exc) == "corporate"
    assert not Certificate.objects.financial().exists()


def test_a_registered_financial_certificate_of_another_institution_signs_here(alice_bank) -> None:
    cloud_id = _issued_elsewhere(alice_bank)
    row = _register(alice_bank, cloud_id)
    evidence = sign(alice_bank, PIN, "amount=70000\nto=088-110-123456")
    assert evidence.external_certificate == row and evidence.certificate is None
    # Ours, once issued, is the one used.
    own = issue(alice_bank, OTHER_PIN)
    assert sign(alice_bank, OTHER_PIN).certificate == own
