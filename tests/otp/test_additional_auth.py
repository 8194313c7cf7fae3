"""Additional authentication (추가인증): a 6-digit code by SMS or ARS, valid 3 minutes, 5 tries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Customer, User
from accounts.services import customer_create
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from otp import additionalauth as rules
from otp.models import AdditionalAuthChallenge
from otp.services.additional_auth import Refusal, additional_auth_start, additional_auth_verify
from tests.conftest import rrn_for_age

pytestmark = pytest.mark.django_db

PURPOSE = AdditionalAuthChallenge.Purpose.CERTIFICATE_REISSUE
T0 = dt.datetime(2031, 5, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def alice_user(alice) -> User:
    return User.objects.create_user(username="alice01", password="Long-pass-2031!", customer=alice)


def _start(customer, actor, *, now=T0) -> str:
    """Send a code by SMS and return it as the customer's phone received it."""
    additional_auth_start(customer=customer, purpose=PURPOSE, channel="sms", actor=actor, now=now)
    return re.search(r"\d{6}", Notification.objects.latest("id").body).group(0)


def _verify(customer, actor, answer, *, now=T0):
    return additional_auth_verify(customer=customer, purpose=PURPOSE, answer=answer, actor=actor, now=now)


def test_the_code_goes_by_sms_to_the_registered_phone_and_is_never_stored(alice, alice_user):
    code = _start(alice, alice_user)
    sms = Notification.objects.get()
    assert sms.channel == "sms" and sms.to == alice.phone and "3" in sms.body
    challenge = AdditionalAuthChallenge.objects.get()
    stored = " ".join(str(v) for v in AdditionalAuthChallenge.objects.values().get().values())
    assert code not in stored and challenge.code_mac != code
    event = AuditEvent.objects.get(action="additional_auth.start")
    assert code not in str(event.details)


def test_the_right_code_verifies_once(alice, alice_user):
    code = _start(alice, alice_user)
    assert _verify(alice, alice_user, code).ok
    assert _verify(alice, alice_user, code).refusal is Refusal.NO_CHALLENGE


def test_four_wrong_tries_then_the_right_code_still_verifies(alice, alice_user):
    code = _start(alice, alice_user)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        result = _verify(alice, alice_user, wrong)
        assert result.refusal is Refusal.WRONG and result.tries_left == left
    assert _verify(alice, alice_user, code).ok


def test_the_fifth_wrong_try_ends_the_code(alice, alice_user):
    code = _start(alice, alice_user)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    results = [_verify(alice, alice_user, wrong) for _ in range(5)]
    assert results[-1].refusal is Refusal.TOO_MANY_TRIES
    assert _verify(alice, alice_user, code).refusal is Refusal.NO_CHALLENGE
    assert AdditionalAuthChallenge.objects.get().state == AdditionalAuthChallenge.State.FAILED


def test_the_code_is_valid_for_exactly_3_minutes(alice, alice_user):
    code = _start(alice, alice_user)
    assert _verify(alice, alice_user, code, now=T0 + rules.LIFETIME).ok
    code = _start(alice, alice_user, now=T0 + dt.timedelta(minutes=10))
    late = T0 + dt.timedelta(minutes=10) + rules.LIFETIME + dt.timedelta(microseconds=1)
    assert _verify(alice, alice_user, code, now=late).refusal is Refusal.EXPIRED


def test_a_new_code_replaces_the_old_one(alice, alice_user):
    first = _start(alice, alice_user)
    second = _start(alice, alice_user)
    if first != second:
        assert _verify(alice, alice_user, first).refusal is Refusal.WRONG
    assert _verify(alice, alice_user, second).ok


@pytest.mark.parametrize("answer", ["", "12345", "1234567", "12a456", "１２３４５６"])
def test_malformed_answers_are_wrong_not_errors(alice, alice_user, answer):
    _start(alice, alice_user)
    assert _verify(alice, alice_user, answer).refusal is Refusal.WRONG


def test_ars_reads_the_code_out_when_the_bank_offers_it(settings, alice, alice_user):
    settings.ARS_BACKEND = "bankportal.notifications.backends.OutboxArsBackend"
    additional_auth_start(customer=alice, purpose=PURPOSE, channel="ars", actor=alice_user, now=T0)
    call = Notification.objects.get()
    assert call.channel == "voice" and call.to == alice.phone
    spoken = re.search(r"(\d \d \d \d \d \d)", call.body).group(1).replace(" ", "")
    assert _verify(alice, alice_user, spoken).ok


def test_without_ars_the_channel_is_refused_clearly(settings, alice, alice_user):
    settings.ARS_BACKEND = ""
    with pytest.raises(ValidationError) as exc:
        additional_auth_start(customer=alice, purpose=PURPOSE, channel="ars", actor=alice_user, now=T0)
    assert exc.value.code == "ars_unavailable"
    assert not Notification.objects.exists() and not AdditionalAuthChallenge.objects.exists()


def test_at_most_five_codes_an_hour(alice, alice_user):
    for minute in range(5):
        _start(alice, alice_user, now=T0 + dt.timedelta(minutes=minute))
    with pytest.raises(ValidationError) as exc:
        _start(alice, alice_user, now=T0 + dt.timedelta(minutes=59))
    assert exc.value.code == "too_many_codes"
    _start(alice, alice_user, now=T0 + dt.timedelta(minutes=60, seconds=1))


def test_only_the_customer_or_authorised_staff_may_ask(alice, teller):
    bob = customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="최밥", phone="01077778888", rrn=rrn_for_age(45), actor=teller
    )
    bob_user = User.objects.create_user(username="bob01", password="Long-pass-2031!", customer=bob)
    with pytest.raises(PermissionDenied):
        additional_auth_start(customer=alice, purpose=PURPOSE, channel="sms", actor=bob_user, now=T0)
    with pytest.raises(PermissionDenied):
        additional_auth_start(customer=alice, purpose=PURPOSE, channel="sms", actor=teller, now=T0)
    with pytest.raises(PermissionDenied):
        additional_auth_start(customer=alice, purpose=PURPOSE, channel="sms", actor=None, now=T0)
    assert not Notification.objects.exists()


def test_time_machine_clock_is_used_by_default(alice, alice_user):
    """Without ``now``, the service reads the clock (so a real request ages the code)."""
    with time_machine.travel(T0, tick=False):
        additional_auth_start(customer=alice, purpose=PURPOSE, channel="sms", actor=alice_user)
    code = re.search(r"\d{6}", Notification.objects.get().body).group(0)
    with time_machine.travel(T0 + dt.timedelta(minutes=4), tick=False):
        assert additional_auth_verify(customer=alice, purpose=PURPOSE, answer=code, actor=alice_user).refusal is (
            Refusal.EXPIRED
        )
