"""OTP tokens: registration at a branch and online (통합OTP), verification with drift and replay
guard, the error counter shared across institutions, digital OTP enrollment, accident reports,
unlocking only through a manager-approved request, and seeds never at rest in clear."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyotp
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import translation

from accounts import services as account_services
from accounts.models import StaffRequest, User
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from otp import additionalauth, totp
from otp.models import AdditionalAuthChallenge, OtpRegistration, OtpToken
from otp.selectors import customer_has_active_otp, customer_security_media
from otp.services import (
    OtpRefused,
    OtpResult,
    additional_auth_start,
    additional_auth_verify,
    digital_otp_enroll_confirm,
    digital_otp_enroll_start,
    otp_accident_report,
    otp_register_at_branch,
    otp_register_online,
    otp_token_record_external_failure,
    otp_token_unlock,
    otp_tokens_import,
    otp_verify,
    require_certificate_session,
)
from otp.services.digital_otp import ERR_PHONE_CHECK_REQUIRED
from otp.services.tokens import ERR_ACCIDENT_REPORTED, CertificateSessionRequired

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2031, 5, 20, 10, 0, 30, tzinfo=dt.UTC)
STEP = 60
OTHER_BANK = "088"
SEEDS = {
    "OTP0000000001": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    "OTP0000000002": "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U",
    "OWN0000000003": "KRUGKIDROVUWG2ZAMJZG653OEBTG66BA",
    "OTP0000000004": "ONSWG4TFOQQGC3TEEBZWKY3VOJSSA4ZT",
}
IMPORTER = system_actor("test:import", ["otp.add_otptoken"])
CENTRE = system_actor("test:integrated_otp_centre", ["otp.change_otptoken"])


def code(serial: str, now: dt.datetime = T0, offset: int = 0, step: int = STEP) -> str:
    return totp.code_at_step(SEEDS[serial], totp.time_step(now, step) + offset, step_seconds=step)


def wrong(serial: str, now: dt.datetime = T0, step: int = STEP) -> str:
    """A six-digit number that is none of the codes the window accepts."""
    near = {code(serial, now, offset, step) for offset in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)


@pytest.fixture
def tokens(db) -> dict[str, OtpToken]:
    rows = [
        (
            2,
            {
                "serial": "OTP0000000001",
                "seed": SEEDS["OTP0000000001"],
                "kind": "hardware",
                "issuer": OTHER_BANK,
                "warranty": "2036-12-31",
            },
        ),
        (
            3,
            {
                "serial": "OTP0000000002",
                "seed": SEEDS["OTP0000000002"],
                "kind": "card_type",
                "issuer": OTHER_BANK,
                "warranty": "2036-12-31",
            },
        ),
        (
            4,
            {
                "serial": "OWN0000000003",
                "seed": SEEDS["OWN0000000003"],
                "kind": "hardware",
                "issuer": "997",
                "warranty": "2036-12-31",
            },
        ),
        (
            5,
            {
                "serial": "OTP0000000004",
                "seed": SEEDS["OTP0000000004"],
                "kind": "hardware",
                "issuer": OTHER_BANK,
                "warranty": "2020-12-31",
            },
        ),
    ]
    otp_tokens_import(rows=rows, actor=IMPORTER)
    return {token.serial: token for token in OtpToken.objects.all()}


@pytest.fixture
def alice_user(alice) -> User:
    return User.objects.create_user(username="alice01", password="Long-pass-2031!", customer=alice)


@pytest.fixture
def registered(alice, teller, tokens) -> OtpRegistration:
    """Alice uses another institution's integrated OTP, registered at the branch."""
    return otp_register_at_branch(customer=alice, serial="OTP0000000001", actor=teller)


def token(serial: str) -> OtpToken:
    return OtpToken.objects.get(serial=serial)


# --- Verification: drift and replay ---------------------------------------------------------------


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_a_code_one_step_off_is_accepted(alice, alice_user, registered, offset) -> None:
    """Drift of one step either way is accepted, and the step is recorded as used."""
    outcome = otp_verify(customer=alice, code=code("OTP0000000001", offset=offset), actor=alice_user, now=T0)
    assert outcome.ok and outcome.result is OtpResult.OK
    assert token("OTP0000000001").last_used_step == totp.time_step(T0, STEP) + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_a_code_two_steps_off_is_refused_and_counted(alice, alice_user, registered, offset) -> None:
    """Two steps of drift is a wrong code: refused, and it counts on the token."""
    outcome = otp_verify(customer=alice, code=code("OTP0000000001", offset=offset), actor=alice_user, now=T0)
    assert outcome.result is OtpResult.WRONG
    assert token("OTP0000000001").error_count == 1 and outcome.errors_left == 9


def test_a_used_code_is_refused_and_so_is_an_older_steps_code(alice, alice_user, registered) -> None:
    """The same code twice is refused; after the current step is used, the previous step's code is too."""
    assert otp_verify(customer=alice, code=code("OTP0000000001"), actor=alice_user, now=T0).ok
    again = otp_verify(customer=alice, code=code("OTP0000000001"), actor=alice_user, now=T0 + dt.timedelta(seconds=5))
    assert again.result is OtpResult.REPLAYED
    older = otp_verify(customer=alice, code=code("OTP0000000001", offset=-1), actor=alice_user, now=T0)
    assert older.result is OtpResult.REPLAYED
    # A replay is not a guess: it does not count towards the lock.
    assert token("OTP0000000001").error_count == 0
    later = T0 + dt.timedelta(seconds=STEP)
    assert otp_verify(customer=alice, code=code("OTP0000000001", later), actor=alice_user, now=later).ok


def test_a_customer_without_an_otp_is_told_so(alice, alice_user, tokens) -> None:
    """No registration: NO_DEVICE, nothing counted."""
    outcome = otp_verify(customer=alice, code="123456", actor=alice_user, now=T0)
    assert outcome.result is OtpResult.NO_DEVICE and not outcome.ok


def test_only_the_customer_or_a_permitted_actor_verifies(alice, minnie, registered, teller) -> None:
    """Another customer's user and staff without the permission are refused; a permitted job is not."""
    mallory = User.objects.create_user(username="minnie01", password="Long-pass-2031!", customer=minnie)
    with pytest.raises(PermissionDenied):
        otp_verify(customer=alice, code="123456", actor=mallory, now=T0)
    with pytest.raises(PermissionDenied):
        otp_verify(customer=alice, code="123456", actor=teller, now=T0)
    job = system_actor("test:verifier", ["otp.verify_otpregistration"])
    assert otp_verify(customer=alice, code=code("OTP0000000001"), actor=job, now=T0).ok


# --- The shared counter (통합OTP) -------------------------------------------------------------------


def test_nine_errors_across_institutions_then_a_right_code_resets(alice, alice_user, registered) -> None:
    """5 wrong codes here and 4 at another institution add up to 9; a right code here resets them all."""
    for _ in range(5):
        assert (
            otp_verify(customer=alice, code=wrong("OTP0000000001"), actor=alice_user, now=T0).result is OtpResult.WRONG
        )
    for _ in range(4):
        outcome = otp_token_record_external_failure(
            serial="OTP0000000001", institution=OTHER_BANK, actor=CENTRE, now=T0
        )
        assert outcome.result is OtpResult.WRONG
    assert token("OTP0000000001").error_count == 9
    outcome = otp_verify(customer=alice, code=code("OTP0000000001"), actor=alice_user, now=T0)
    assert outcome.ok and outcome.errors == 0
    assert token("OTP0000000001").error_count == 0


def test_the_tenth_error_across_institutions_locks_the_token_everywhere(alice, alice_user, registered) -> None:
    """5 here + 5 there lock the token; then even the right code is refused, here and there."""
    for _ in range(5):
        otp_verify(customer=alice, code=wrong("OTP0000000001"), actor=alice_user, now=T0)
    for _ in range(4):
        otp_token_record_external_failure(serial="OTP0000000001", institution=OTHER_BANK, actor=CENTRE, now=T0)
    tenth = otp_token_record_external_failure(serial="OTP0000000001", institution=OTHER_BANK, actor=CENTRE, now=T0)
    assert tenth.result is OtpResult.LOCKED
    locked = token("OTP0000000001")
    assert locked.status == OtpToken.Status.LOCKED and locked.error_count == 10 and locked.locked_at == T0
    right = otp_verify(customer=alice, code=code("OTP0000000001"), actor=alice_user, now=T0)
    assert right.result is OtpResult.LOCKED
    assert AuditEvent.objects.filter(action="otp.external_failure").count() == 5


def test_the_tenth_error_here_locks_and_says_so(alice, alice_user, registered) -> None:
    """The 10th consecutive wrong code at this bank returns LOCKED, not WRONG."""
    results = [
        otp_verify(customer=alice, code=wrong("OTP0000000001"), actor=alice_user, now=T0).result for _ in range(10)
    ]
    assert results == [OtpResult.WRONG] * 9 + [OtpResult.LOCKED]
    assert AuditEvent.objects.filter(action="otp.lock").count() == 1


def test_a_locked_token_cannot_be_registered_anywhere_else(alice, minnie, teller, registered) -> None:
    """A locked token is refused for registration at a branch (unlock first)."""
    for _ in range(10):
        otp_token_record_external_failure(serial="OTP0000000001", institution=OTHER_BANK, actor=CENTRE, now=T0)
    otp_accident_report(customer=alice, actor=teller)  # frees the registration; the token stays blocked
    with pytest.raises(OtpRefused) as refused:
        otp_register_at_branch(customer=minnie, serial="OTP0000000001", actor=teller)
    assert refused.value.result is OtpResult.ACCIDENT_REPORTED


# --- Registration ---------------------------------------------------------------------------------


def test_branch_registration_replaces_the_previous_otp_and_is_audited(alice, teller, registered) -> None:
    """A second token registered at the branch retires the first; at most one is active."""
    second = otp_register_at_branch(customer=alice, serial="otp-0000000002", actor=teller)
    registered.refresh_from_db()
    assert registered.status == OtpRegistration.Status.RETIRED and second.status == OtpRegistration.Status.ACTIVE
    assert second.channel == OtpRegistration.Channel.BRANCH and second.registered_by == teller
    assert OtpRegistration.objects.filter(customer=alice, status="active").count() == 1
    assert AuditEvent.objects.filter(action="otp.register", customer_ref=alice.pk).count() == 2


@pytest.mark.parametrize(
    ("serial", "result"),
    [
        ("NOPE000000", OtpResult.UNKNOWN_SERIAL),
        ("OTP0000000004", OtpResult.WARRANTY_EXPIRED),
        ("OTP0000000001", OtpResult.IN_USE),
    ],
)
def test_branch_registration_refusals(minnie, teller, registered, serial, result) -> None:
    """Unknown serials, expired warranties and a token another customer uses here are refused."""
    with pytest.raises(OtpRefused) as refused:
        otp_register_at_branch(customer=minnie, serial=serial, actor=teller)
    assert refused.value.result is result
    assert refused.value.code == f"otp_{result.value}"


def test_the_database_refuses_two_active_otps_for_one_customer(alice, tokens, registered) -> None:
    """The one-active-registration rule is a constraint, not only a service check."""
    with pytest.raises(IntegrityError), transaction.atomic():
        OtpRegistration.objects.create(
            customer=alice, token=tokens["OTP0000000002"], name="x", channel="branch", registered_at=T0
        )


def test_staff_never_register_on_their_own_record(alice, tokens) -> None:
    """Separation of duties: a teller who is also the customer is refused."""
    own = User.objects.create_user(username="teller2", password="x-Long-pass-1!", is_staff=True, customer=alice)
    own.user_permissions.add(Permission.objects.get(codename="add_otpregistration"))
    with pytest.raises(PermissionDenied):
        otp_register_at_branch(customer=alice, serial="OTP0000000001", actor=User.objects.get(pk=own.pk))


def test_online_registration_needs_a_certificate_session(alice, alice_user, tokens) -> None:
    """Without a certificate-level session the online registration is refused and audited."""
    outcome = otp_register_online(
        customer=alice,
        serial="OTP0000000001",
        code=code("OTP0000000001"),
        actor=alice_user,
        certificate_session=False,
        now=T0,
    )
    assert outcome.result is OtpResult.CERTIFICATE_REQUIRED
    assert not OtpRegistration.objects.filter(customer=alice).exists()
    assert AuditEvent.objects.filter(action="otp.register_online_refused", customer_ref=alice.pk).exists()


def test_the_certificate_guard_reads_the_session_level(rf, alice_user) -> None:
    """A request passes only once the certificate login set the session level; a bool passes as given."""
    from bankportal.session_levels import Level, set_session_level

    request = rf.get("/")
    request.user = alice_user
    request.session = {}
    with pytest.raises(CertificateSessionRequired):
        require_certificate_session(request)
    set_session_level(request, Level.CERTIFICATE)
    require_certificate_session(request)
    require_certificate_session(True)
    with pytest.raises(CertificateSessionRequired):
        require_certificate_session(False)


def test_online_registration_of_another_institutions_otp(alice, alice_user, tokens) -> None:
    """With a certificate session and a right code from the device, the OTP is registered online."""
    outcome = otp_register_online(
        customer=alice,
        serial="OTP0000000001",
        code=code("OTP0000000001"),
        actor=alice_user,
        certificate_session=True,
        now=T0,
    )
    assert outcome.ok
    assert outcome.registration.channel == OtpRegistration.Channel.ONLINE
    assert customer_has_active_otp(alice.pk)


def test_online_registration_with_a_wrong_code_counts_on_the_token(alice, alice_user, tokens) -> None:
    """A wrong code while registering is an error on the shared counter; nothing is registered."""
    outcome = otp_register_online(
        customer=alice,
        serial="OTP0000000001",
        code=wrong("OTP0000000001"),
        actor=alice_user,
        certificate_session=True,
        now=T0,
    )
    assert outcome.result is OtpResult.WRONG
    assert token("OTP0000000001").error_count == 1
    assert not OtpRegistration.objects.filter(customer=alice).exists()


def test_this_banks_own_otp_is_registered_at_a_branch_not_online(alice, alice_user, tokens) -> None:
    """Online registration is for other institutions' integrated OTPs."""
    outcome = otp_register_online(
        customer=alice,
        serial="OWN0000000003",
        code=code("OWN0000000003"),
        actor=alice_user,
        certificate_session=True,
        now=T0,
    )
    assert outcome.result is OtpResult.ISSUED_HERE


def test_staff_cannot_use_the_online_registration(alice, teller, tokens) -> None:
    """Online registration is the customer's own act."""
    with pytest.raises(PermissionDenied):
        otp_register_online(
            customer=alice, serial="OTP0000000001", code="123456", actor=teller, certificate_session=True
        )


# --- Accident report ------------------------------------------------------------------------------


def test_an_accident_report_blocks_the_token_at_once(alice, alice_user, registered) -> None:
    """The customer reports loss online: token blocked everywhere, registration marked, audited, SMS sent."""
    from bankportal.notifications.models import Notification

    otp_accident_report(customer=alice, actor=alice_user)
    blocked = token("OTP0000000001")
    registered.refresh_from_db()
    assert blocked.status == OtpToken.Status.ACCIDENT_REPORTED and blocked.accident_reported_at is not None
    assert registered.status == OtpRegistration.Status.ACCIDENT_REPORTED
    event = AuditEvent.objects.get(action="otp.accident_report")
    assert event.details["channel"] == "online"
    assert (
        otp_verify(customer=alice, code=code("OTP0000000001"), actor=alice_user, now=T0).result
        is OtpResult.ACCIDENT_REPORTED
    )
    external = otp_token_record_external_failure(serial="OTP0000000001", institution=OTHER_BANK, actor=CENTRE, now=T0)
    assert external.result is OtpResult.ACCIDENT_REPORTED
    assert not customer_has_active_otp(alice.pk)
    assert Notification.objects.filter(to=alice.phone, purpose="otp").exists()


def test_an_accident_report_blocks_online_registration_of_another_otp(alice, alice_user, teller, registered) -> None:
    """While the current OTP is accident-reported, online registration says "visit a branch"; the
    branch can register a replacement, after which online registration works again."""
    otp_accident_report(customer=alice, actor=teller)
    outcome = otp_register_online(
        customer=alice,
        serial="OTP0000000002",
        code=code("OTP0000000002"),
        actor=alice_user,
        certificate_session=True,
        now=T0,
    )
    assert outcome.result is OtpResult.ACCIDENT_REPORTED
    assert outcome.message == str(ERR_ACCIDENT_REPORTED)
    with translation.override("en"):
        assert "branch" in str(ERR_ACCIDENT_REPORTED)
    assert token("OTP0000000002").error_count == 0  # the code was never checked
    replacement = otp_register_at_branch(customer=alice, serial="OTP0000000002", actor=teller)
    assert replacement.status == OtpRegistration.Status.ACTIVE


def test_an_accident_report_needs_an_otp(alice, alice_user, tokens) -> None:
    """Nothing to report: refused with NO_DEVICE."""
    with pytest.raises(OtpRefused) as refused:
        otp_accident_report(customer=alice, actor=alice_user)
    assert refused.value.result is OtpResult.NO_DEVICE


def test_another_customer_cannot_report_my_otp_lost(alice, minnie, registered) -> None:
    """Only the customer or staff with the permission record an accident report."""
    mallory = User.objects.create_user(username="minnie01", password="Long-pass-2031!", customer=minnie)
    with pytest.raises(PermissionDenied):
        otp_accident_report(customer=alice, actor=mallory)


# --- Unlock through the maker-checker flow --------------------------------------------------------


def _lock(alice, alice_user) -> None:
    for _ in range(10):
        otp_verify(customer=alice, code=wrong("OTP0000000001"), actor=alice_user, now=T0)


def test_unlock_only_through_an_approved_staff_request(alice, alice_user, teller, manager, registered) -> None:
    """The teller records the request, a manager approves it, and the token is active with no errors."""
    _lock(alice, alice_user)
    request = account_services.staff_request_create(
        kind=StaffRequest.Kind.OTP_UNLOCK, reason="customer at the counter with ID", customer=alice, actor=teller
    )
    assert request.payload["token"] == registered.token_id
    with pytest.raises(ValidationError):  # not approved yet
        otp_token_unlock(request=request, actor=manager)
    assert token("OTP0000000001").status == OtpToken.Status.LOCKED
    account_services.staff_request_approve(request=request, actor=manager)
    unlocked = token("OTP0000000001")
    assert unlocked.status == OtpToken.Status.ACTIVE and unlocked.error_count == 0 and unlocked.locked_at is None
    request.refresh_from_db()
    assert request.state == StaffRequest.State.EXECUTED
    assert AuditEvent.objects.filter(action="otp.unlock", customer_ref=alice.pk).exists()
    assert otp_verify(customer=alice, code=code("OTP0000000001"), actor=alice_user, now=T0).ok
    with pytest.raises(ValidationError):  # used once
        otp_token_unlock(request=request, actor=manager)


def test_a_teller_cannot_unlock_without_a_manager(alice, alice_user, teller, registered) -> None:
    """The teller lacks the unlock permission and cannot approve their own request."""
    _lock(alice, alice_user)
    request = account_services.staff_request_create(
        kind=StaffRequest.Kind.OTP_UNLOCK, reason="customer at the counter", customer=alice, actor=teller
    )
    with pytest.raises(PermissionDenied):
        otp_token_unlock(request=request, actor=teller)
    with pytest.raises(PermissionDenied):
        account_services.staff_request_approve(request=request, actor=teller)
    assert token("OTP0000000001").status == OtpToken.Status.LOCKED


def test_an_unlock_request_needs_a_locked_otp(alice, teller, registered) -> None:
    """Recording an unlock request for a customer whose OTP is not locked is refused."""
    with pytest.raises(ValidationError) as refused:
        account_services.staff_request_create(
            kind=StaffRequest.Kind.OTP_UNLOCK, reason="x", customer=alice, actor=teller
        )
    assert refused.value.error_list[0].code == "otp_not_locked"


# --- Digital OTP ----------------------------------------------------------------------------------

PHONE_CHECK = AdditionalAuthChallenge.Purpose.DIGITAL_OTP_ENROLL


def phone_check(customer, user, now: dt.datetime = T0) -> None:  # type: ignore[no-untyped-def]
    """The customer proves the registered phone: a code by SMS, typed back."""
    additional_auth_start(customer=customer, purpose=PHONE_CHECK, channel="sms", actor=user, now=now)
    sms = Notification.objects.filter(to=customer.phone).latest("id")
    answer = re.search(r"\d{6}", sms.body).group(0)  # type: ignore[union-attr]
    assert additional_auth_verify(customer=customer, purpose=PHONE_CHECK, answer=answer, actor=user, now=now).ok


def enroll(customer, user, now: dt.datetime = T0):  # type: ignore[no-untyped-def]
    """Start a digital OTP online, after a phone check."""
    phone_check(customer, user, now)
    return digital_otp_enroll_start(customer=customer, actor=user, now=now)


def test_digital_otp_enrollment_end_to_end(alice, alice_user, registered) -> None:
    """Start gives an otpauth URI; an authenticator computes a code from its secret; confirming makes
    the digital OTP the active one (the previous OTP is retired) and it then verifies."""
    enrollment = enroll(alice, alice_user)
    assert enrollment.registration.status == OtpRegistration.Status.PENDING
    assert "otpauth" not in repr(enrollment)
    app = pyotp.parse_uri(enrollment.uri)
    assert app.issuer == "다솜은행" and app.name == "김**스" and app.interval == 30
    assert customer_has_active_otp(alice.pk)  # the current OTP works until the new one is confirmed
    wrong_code = next(
        f"{n:06d}"
        for n in range(1_000_000)
        if f"{n:06d}" not in {app.generate_otp(app.timecode(T0) + k) for k in (-1, 0, 1)}
    )
    assert (
        digital_otp_enroll_confirm(customer=alice, code=wrong_code, actor=alice_user, now=T0).result is OtpResult.WRONG
    )
    outcome = digital_otp_enroll_confirm(customer=alice, code=app.at(T0), actor=alice_user, now=T0)
    assert outcome.ok
    digital = outcome.registration
    assert digital.status == OtpRegistration.Status.ACTIVE and digital.confirmed
    assert digital.token.kind == OtpToken.Kind.DIGITAL and digital.token.status == OtpToken.Status.ACTIVE
    assert digital.token.step_seconds == 30 and digital.token.error_count == 0
    registered.refresh_from_db()
    assert registered.status == OtpRegistration.Status.RETIRED
    assert token("OTP0000000001").status == OtpToken.Status.ACTIVE  # still usable at other institutions
    later = T0 + dt.timedelta(seconds=90)
    assert otp_verify(customer=alice, code=app.at(later), actor=alice_user, now=later).ok
    media = customer_security_media(alice)
    assert [(m.kind, m.status) for m in media] == [("digital", "active")]


def test_restarting_digital_enrollment_voids_the_first_qr(alice, alice_user, tokens) -> None:
    """A second start retires the first pending token: its codes no longer confirm."""
    first = pyotp.parse_uri(enroll(alice, alice_user).uri)
    second = pyotp.parse_uri(enroll(alice, alice_user).uri)
    assert first.secret != second.secret
    if first.at(T0) == second.at(T0):
        pytest.skip("code collision")
    refused = digital_otp_enroll_confirm(customer=alice, code=first.at(T0), actor=alice_user, now=T0)
    assert refused.result is OtpResult.WRONG
    assert digital_otp_enroll_confirm(customer=alice, code=second.at(T0), actor=alice_user, now=T0).ok
    assert OtpRegistration.objects.filter(customer=alice, status="retired").count() == 1


def test_confirming_without_a_pending_enrollment_is_no_device(alice, alice_user, tokens) -> None:
    """Nothing pending: NO_DEVICE."""
    assert (
        digital_otp_enroll_confirm(customer=alice, code="123456", actor=alice_user, now=T0).result
        is OtpResult.NO_DEVICE
    )


def _refused_for_phone_check(alice, alice_user, now: dt.datetime = T0) -> None:  # type: ignore[no-untyped-def]
    """The start is refused for want of a phone check, and writes nothing."""
    before = list(OtpRegistration.objects.filter(customer=alice).values_list("pk", "status"))
    tokens_before = OtpToken.objects.count()
    with pytest.raises(ValidationError) as refused:
        digital_otp_enroll_start(customer=alice, actor=alice_user, now=now)
    assert refused.value.code == "phone_check_required"
    assert refused.value.messages == [str(ERR_PHONE_CHECK_REQUIRED)]
    assert OtpToken.objects.count() == tokens_before
    assert list(OtpRegistration.objects.filter(customer=alice).values_list("pk", "status")) == before


def test_online_enrollment_without_a_phone_check_is_refused(alice, alice_user, registered) -> None:
    """A web password alone (no phone check, or a code sent but never typed back) starts nothing."""
    _refused_for_phone_check(alice, alice_user)
    additional_auth_start(customer=alice, purpose=PHONE_CHECK, channel="sms", actor=alice_user, now=T0)
    _refused_for_phone_check(alice, alice_user)
    assert not AuditEvent.objects.filter(action="otp.digital_enroll_start").exists()


def test_a_phone_check_for_another_purpose_does_not_count(alice, alice_user, tokens) -> None:
    """A code verified for a certificate reissue does not open a digital OTP enrollment."""
    purpose = AdditionalAuthChallenge.Purpose.CERTIFICATE_REISSUE
    additional_auth_start(customer=alice, purpose=purpose, channel="sms", actor=alice_user, now=T0)
    answer = re.search(r"\d{6}", Notification.objects.latest("id").body).group(0)  # type: ignore[union-attr]
    assert additional_auth_verify(customer=alice, purpose=purpose, answer=answer, actor=alice_user, now=T0).ok
    _refused_for_phone_check(alice, alice_user)


def test_a_phone_check_is_usable_for_exactly_10_minutes(alice, alice_user, tokens) -> None:
    """Verified at T0: a start at T0 + 10:00 works; a check verified at T1 is refused at T1 + 10:00 + 1 s."""
    phone_check(alice, alice_user, T0)
    assert digital_otp_enroll_start(customer=alice, actor=alice_user, now=T0 + dt.timedelta(minutes=10))
    t1 = T0 + dt.timedelta(minutes=30)
    phone_check(alice, alice_user, t1)
    _refused_for_phone_check(alice, alice_user, t1 + dt.timedelta(minutes=10, seconds=1))
    # The first start stays pending: the refused one wrote nothing and restarted nothing.
    assert OtpRegistration.objects.filter(customer=alice, status=OtpRegistration.Status.PENDING).count() == 1


def test_a_phone_check_starts_one_enrollment_only(alice, alice_user, tokens) -> None:
    """Starting spends the verification (USED, audited); a second start needs a new phone check."""
    enrollment = enroll(alice, alice_user)
    used = AdditionalAuthChallenge.objects.get(purpose=PHONE_CHECK)
    assert used.state == AdditionalAuthChallenge.State.USED and used.used_at == T0
    assert AuditEvent.objects.get(action="additional_auth.used").details == {"purpose": PHONE_CHECK}
    start = AuditEvent.objects.get(action="otp.digital_enroll_start")
    assert start.details["phone_check"] == used.pk
    with pytest.raises(ValidationError):
        digital_otp_enroll_start(customer=alice, actor=alice_user, now=T0 + dt.timedelta(seconds=5))
    enrollment.registration.refresh_from_db()
    assert enrollment.registration.status == OtpRegistration.Status.PENDING  # not restarted by the refusal
    assert enroll(alice, alice_user, T0 + dt.timedelta(seconds=10)).registration != enrollment.registration


def test_the_database_refuses_a_used_phone_check_without_its_times(alice, alice_user, tokens) -> None:
    """USED always carries when it was verified and when it was used."""
    phone_check(alice, alice_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        AdditionalAuthChallenge.objects.filter(purpose=PHONE_CHECK).update(state="used")


def test_staff_at_a_branch_need_no_phone_check(alice, teller, tokens) -> None:
    """A teller (otp.add_otpregistration) checks ID in person: the start works without a phone check,
    is recorded as a branch registration, and spends nothing."""
    enrollment = digital_otp_enroll_start(customer=alice, actor=teller, now=T0)
    assert enrollment.registration.channel == OtpRegistration.Channel.BRANCH
    assert AuditEvent.objects.get(action="otp.digital_enroll_start").details["phone_check"] is None


def test_a_lost_otp_can_be_replaced_by_a_digital_otp_online(alice, alice_user, registered) -> None:
    """An accident-reported OTP does not block a digital OTP (its usual replacement); the phone check
    protects it."""
    otp_accident_report(customer=alice, actor=alice_user, channel="online")
    _refused_for_phone_check(alice, alice_user)
    app = pyotp.parse_uri(enroll(alice, alice_user).uri)
    assert digital_otp_enroll_confirm(customer=alice, code=app.at(T0), actor=alice_user, now=T0).ok


@pytest.mark.parametrize(
    ("elapsed", "usable"),
    [
        (dt.timedelta(0), True),
        (dt.timedelta(minutes=10), True),
        (dt.timedelta(minutes=10, seconds=1), False),
        (dt.timedelta(minutes=10, microseconds=1), False),
        (-dt.timedelta(seconds=1), False),
    ],
)
def test_the_phone_check_window_rule(elapsed, usable) -> None:
    """Pure rule: usable from the verification up to and including 10 minutes after it."""
    assert dt.timedelta(minutes=10) == additionalauth.VERIFIED_USABLE_FOR
    assert additionalauth.verification_usable(T0, T0 + elapsed) is usable


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("01012345678", "010-****-5678"), ("0111234567", "011-***-4567"), ("010-1234-5678", "010-****-5678"), ("", "***")],
)
def test_the_phone_number_is_shown_masked(phone, masked) -> None:
    """Pages show where the code went without the middle digits."""
    assert additionalauth.mask_phone(phone) == masked


# --- Seeds at rest --------------------------------------------------------------------------------


def test_a_seed_never_appears_in_clear_in_the_database(alice, alice_user, registered) -> None:
    """Every column of every token row, and the audit trail, is free of the seeds; a ciphertext
    moved to another token does not decrypt there."""
    enrollment = enroll(alice, alice_user)
    digital_seed = pyotp.parse_uri(enrollment.uri).secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM otp_otptoken")
        dump = json.dumps([list(map(str, row)) for row in cursor.fetchall()], ensure_ascii=False)
        cursor.execute("SELECT * FROM audit_auditevent")
        dump += json.dumps([list(map(str, row)) for row in cursor.fetchall()], ensure_ascii=False)
    for seed in [*SEEDS.values(), digital_seed]:
        assert seed not in dump and seed.lower() not in dump
    from bankportal import crypto
    from otp.services import otp_token_seed

    one, two = token("OTP0000000001"), token("OTP0000000002")
    assert otp_token_seed(one) == SEEDS["OTP0000000001"]
    one.seed_ciphertext, one.seed_key_id = two.seed_ciphertext, two.seed_key_id
    with pytest.raises(crypto.DecryptionError):
        otp_token_seed(one)
