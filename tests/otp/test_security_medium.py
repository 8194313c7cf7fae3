"""The portal's one security-medium API: which medium to ask for, the answer, the tier."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.limits import Limit, Tier, maximum_limit
from accounts.models import User
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from otp import securitycard as card_rules
from otp import totp
from otp.models import SecurityCard
from otp.services import (
    ANTI_PHISHING_NOTICE,
    Medium,
    Purpose,
    Refusal,
    SecurityMediumRefused,
    otp_accident_report,
    otp_register_at_branch,
    otp_tokens_import,
    otp_verify,
    security_card_issue,
    security_medium_challenge,
    security_medium_verify,
    security_tier,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2031, 5, 20, 10, 0, 30, tzinfo=dt.UTC)
SERIAL, SEED = "OTP0000000101", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def _code(now: dt.datetime = T0, offset: int = 0) -> str:
    return totp.code_at_step(SEED, totp.time_step(now, 60) + offset, step_seconds=60)


@pytest.fixture
def alice_user(alice) -> User:
    return User.objects.create_user(username="alice01", password="Long-pass-2031!", customer=alice)


@pytest.fixture
def token(db):
    row = {"serial": SERIAL, "seed": SEED, "kind": "hardware", "issuer": "088", "warranty": "2036-12-31"}
    otp_tokens_import(rows=[(2, row)], actor=system_actor("test:import", ["otp.add_otptoken"]))


@pytest.fixture
def with_otp(alice, teller, token):
    return otp_register_at_branch(customer=alice, serial=SERIAL, actor=teller)


@pytest.fixture
def with_card(alice, teller):
    return security_card_issue(customer=alice, actor=teller)


def _lock_card(issued, actor) -> None:
    card = issued.card
    for _ in range(5):
        challenge = security_medium_challenge(customer=card.customer, purpose=Purpose.TRANSFER, actor=actor, now=T0)
        right = card_rules.expected_answer(
            issued.codes, card_rules.Challenge(first=challenge.card_first, second=challenge.card_second)
        )
        wrong = f"{(int(right) + 1) % 10000:04d}"
        security_medium_verify(customer=card.customer, purpose=Purpose.TRANSFER, answer=wrong, actor=actor, now=T0)
    card.refresh_from_db()
    assert card.status == SecurityCard.Status.LOCKED


# --- The tier, for every combination ---------------------------------------------------------------


def test_no_medium_is_tier_none(alice):
    assert security_tier(alice) is Tier.NONE


def test_a_security_card_is_the_general_tier(alice, with_card):
    assert security_tier(alice) is Tier.GENERAL


def test_an_otp_is_the_safe_tier_with_or_without_a_card(alice, with_otp, with_card):
    assert security_tier(alice) is Tier.SAFE


def test_an_otp_alone_is_the_safe_tier(alice, with_otp):
    assert security_tier(alice) is Tier.SAFE


def test_a_lost_otp_falls_back_to_the_card(alice, alice_user, with_otp, with_card):
    otp_accident_report(customer=alice, actor=alice_user, channel="online")
    assert security_tier(alice) is Tier.GENERAL


def test_a_lost_otp_without_a_card_is_tier_none(alice, alice_user, with_otp):
    otp_accident_report(customer=alice, actor=alice_user, channel="online")
    assert security_tier(alice) is Tier.NONE


def test_a_locked_card_is_tier_none(alice, alice_user, with_card):
    _lock_card(with_card, alice_user)
    assert security_tier(alice) is Tier.NONE


def test_a_locked_otp_falls_back_to_the_card(alice, alice_user, with_otp, with_card):
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in {_code(T0, o) for o in (-1, 0, 1)})
    for _ in range(10):
        otp_verify(customer=alice, code=wrong, actor=alice_user, now=T0)
    assert security_tier(alice) is Tier.GENERAL


def test_a_corporation_with_an_otp_is_in_the_corporate_safe_tier(acme, teller, token):
    otp_register_at_branch(customer=acme, serial=SERIAL, actor=teller)
    tier = security_tier(acme)
    assert tier is Tier.SAFE
    assert maximum_limit(corporate=True, tier=tier, minor_cap=False) == Limit(1_000_000_000, 5_000_000_000)


# --- Challenge and verify ------------------------------------------------------------------------


def test_with_an_otp_the_customer_is_asked_for_the_otp_number(alice, alice_user, with_otp):
    challenge = security_medium_challenge(customer=alice, purpose=Purpose.TRANSFER, actor=alice_user, now=T0)
    assert challenge.medium is Medium.OTP and challenge.card_first is None
    result = security_medium_verify(customer=alice, purpose=Purpose.TRANSFER, answer=_code(), actor=alice_user, now=T0)
    assert result.ok and result.medium is Medium.OTP
    replay = security_medium_verify(customer=alice, purpose=Purpose.TRANSFER, answer=_code(), actor=alice_user, now=T0)
    assert replay.refusal is Refusal.REPLAYED and replay.message


def test_with_a_card_the_same_two_numbers_are_asked_until_answered(alice, alice_user, with_card):
    first = security_medium_challenge(customer=alice, purpose=Purpose.CERTIFICATE_ISSUE, actor=alice_user, now=T0)
    again = security_medium_challenge(customer=alice, purpose=Purpose.CERTIFICATE_ISSUE, actor=alice_user, now=T0)
    assert first.medium is Medium.SECURITY_CARD and (first.card_first, first.card_second) == (
        again.card_first,
        again.card_second,
    )
    assert first.card_first != first.card_second and first.notice == ANTI_PHISHING_NOTICE
    right = card_rules.expected_answer(
        with_card.codes, card_rules.Challenge(first=first.card_first, second=first.card_second)
    )
    result = security_medium_verify(
        customer=alice, purpose=Purpose.CERTIFICATE_ISSUE, answer=right, actor=alice_user, now=T0
    )
    assert result.ok and result.medium is Medium.SECURITY_CARD


def test_a_wrong_answer_is_refused_with_the_tries_left(alice, alice_user, with_card):
    challenge = security_medium_challenge(customer=alice, purpose=Purpose.TRANSFER, actor=alice_user, now=T0)
    right = card_rules.expected_answer(
        with_card.codes, card_rules.Challenge(first=challenge.card_first, second=challenge.card_second)
    )
    wrong = f"{(int(right) + 1) % 10000:04d}"
    result = security_medium_verify(customer=alice, purpose=Purpose.TRANSFER, answer=wrong, actor=alice_user, now=T0)
    assert result.refusal is Refusal.WRONG and result.tries_left == 4


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_outcome_is_audited_with_its_purpose(alice, alice_user, with_otp, purpose):
    security_medium_verify(customer=alice, purpose=purpose, answer="12345", actor=alice_user, now=T0)
    event = AuditEvent.objects.get(action="security_medium.refused")
    assert event.details == {"purpose": purpose.value, "medium": "otp", "refusal": "wrong"}


def test_no_medium_is_refused_clearly(alice, alice_user):
    with pytest.raises(SecurityMediumRefused) as exc:
        security_medium_challenge(customer=alice, purpose=Purpose.TRANSFER, actor=alice_user, now=T0)
    assert exc.value.refusal is Refusal.NO_MEDIUM
    result = security_medium_verify(customer=alice, purpose=Purpose.TRANSFER, answer="1234", actor=alice_user, now=T0)
    assert not result.ok and result.refusal is Refusal.NO_MEDIUM


def test_a_locked_card_is_refused_as_locked(alice, alice_user, with_card):
    _lock_card(with_card, alice_user)
    with pytest.raises(SecurityMediumRefused) as exc:
        security_medium_challenge(customer=alice, purpose=Purpose.TRANSFER, actor=alice_user, now=T0)
    assert exc.value.refusal is Refusal.LOCKED


def test_a_lost_otp_without_a_card_is_refused_as_accident_reported(alice, alice_user, with_otp):
    otp_accident_report(customer=alice, actor=alice_user, channel="online")
    with pytest.raises(SecurityMediumRefused) as exc:
        security_medium_challenge(customer=alice, purpose=Purpose.TRANSFER, actor=alice_user, now=T0)
    assert exc.value.refusal is Refusal.ACCIDENT_REPORTED


def test_an_unknown_purpose_is_a_programming_error(alice, alice_user, with_card):
    with pytest.raises(ValueError):
        security_medium_challenge(customer=alice, purpose="lottery", actor=alice_user, now=T0)
