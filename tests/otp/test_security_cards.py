"""Security cards (보안카드): issue and reissue, the challenge that survives refreshes, the answer with
its failure count and lock, unlocking only through a manager-approved request, and codes that are
never at rest in clear. Every step leaves an audit event."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import translation

from accounts import services as account_services
from accounts.models import Customer, StaffRequest, User
from bankportal import crypto
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from otp import securitycard as rules
from otp.models import SecurityCard
from otp.services import (
    ANTI_PHISHING_NOTICE,
    SecurityCardRefusal,
    SecurityCardUnavailable,
    security_card_challenge,
    security_card_issue,
    security_card_unlock,
    security_card_verify,
)
from otp.services.cards import ERR_CARD_LOCKED, security_card_codes
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

Refusal = SecurityCardRefusal
T0 = dt.datetime(2031, 5, 20, 10, 0, tzinfo=dt.UTC)
Kind = StaffRequest.Kind


@pytest.fixture
def alice_user(alice) -> User:
    return User.objects.create_user(username="alice01", password="Long-pass-2031!", customer=alice)


@pytest.fixture
def issued(alice, teller):
    return security_card_issue(customer=alice, actor=teller)


@pytest.fixture
def card(issued) -> SecurityCard:
    return issued.card


def _right(issued, challenge) -> str:
    return rules.expected_answer(issued.codes, rules.Challenge(first=challenge.first, second=challenge.second))


def _wrong(issued, challenge) -> str:
    right = _right(issued, challenge)
    return right[:3] + str((int(right[3]) + 1) % 10)


def _actions(card: SecurityCard) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="otp.securitycard", object_id=str(card.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- Issue and reissue --------------------------------------------------------------------------


def test_teller_issues_a_card_with_30_codes_and_a_serial(alice, teller, issued):
    """The card is active, belongs to the customer (no login user needed) and is audited."""
    card = issued.card
    assert card.status == SecurityCard.Status.ACTIVE
    assert card.customer == alice and card.user is None and card.issued_by == teller
    assert len(card.serial) == 12 and card.serial.isdigit()
    assert len(issued.codes) == 30 and all(len(c) == 4 and c.isdigit() for c in issued.codes)
    assert security_card_codes(card) == issued.codes
    assert _actions(card) == ["security_card.issue"]
    assert "codes" not in repr(issued) and issued.codes[0] + issued.codes[1] not in repr(issued)


def test_issuing_again_retires_the_previous_card(alice, teller, issued):
    """Reissue: the old card (active or locked) is retired, the new one is the only live card."""
    old = issued.card
    new = security_card_issue(customer=alice, actor=teller)
    old.refresh_from_db()
    assert old.status == SecurityCard.Status.RETIRED and old.retired_at is not None
    assert new.retired == old and new.card.status == SecurityCard.Status.ACTIVE
    assert new.card.serial != old.serial
    assert SecurityCard.objects.filter(customer=alice, status__in=SecurityCard.LIVE_STATUSES).count() == 1
    assert _actions(old) == ["security_card.issue", "security_card.retire"]
    assert _actions(new.card) == ["security_card.reissue"]


def test_a_locked_card_is_not_replaced_by_a_teller_alone(alice, teller, alice_user, issued):
    """Replacing a locked card needs a manager's approval: the reissue is refused and nothing changes."""
    _lock(issued, alice_user)
    with pytest.raises(ValidationError) as refused:
        security_card_issue(customer=alice, actor=teller)
    assert refused.value.code == "security_card_locked_needs_approval"
    issued.card.refresh_from_db()
    assert issued.card.status == SecurityCard.Status.LOCKED
    assert SecurityCard.objects.filter(customer=alice).count() == 1


def test_the_database_refuses_two_live_cards_for_one_customer(alice, card):
    with pytest.raises(IntegrityError), transaction.atomic():
        SecurityCard.objects.create(
            customer=alice, serial="999999999999", codes_ciphertext="x", codes_key_id="k", issued_at=T0
        )


def test_issue_needs_the_permission_and_never_on_own_record(alice, alice_user):
    """A customer cannot issue; a teller cannot issue to their own customer record."""
    with pytest.raises(PermissionDenied):
        security_card_issue(customer=alice, actor=alice_user)
    own = User.objects.create_user(username="teller2", password=STAFF_PASSWORD, is_staff=True, customer=alice)
    own.groups.add(Group.objects.get(name="Teller"))
    with pytest.raises(PermissionDenied):
        security_card_issue(customer=alice, actor=own)
    assert not SecurityCard.objects.exists()


def test_codes_are_not_in_the_database_in_clear(issued):
    """The row (read raw) and the audit trail hold no run of the codes; the ciphertext is not them."""
    table = SecurityCard._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [issued.card.pk])  # noqa: S608
        row_text = " ".join(str(value) for value in cursor.fetchone())
    audit_text = json.dumps(list(AuditEvent.objects.values("details")), default=str)
    packed = "".join(issued.codes)
    pairs = [issued.codes[i] + issued.codes[i + 1] for i in range(29)]
    for text in (row_text, audit_text):
        assert packed not in text
        assert not [pair for pair in pairs if pair in text]
        assert " ".join(issued.codes[:3]) not in text
    raw = base64.b64decode(issued.card.codes_ciphertext)
    assert packed.encode() not in raw


def test_codes_copied_onto_another_card_do_not_decrypt(issued, minnie, teller, alice_user):
    """The ciphertext is bound to its card's serial: moved onto another card it fails."""
    other = security_card_issue(customer=minnie, actor=teller).card
    SecurityCard.objects.filter(pk=other.pk).update(
        codes_ciphertext=issued.card.codes_ciphertext, codes_key_id=issued.card.codes_key_id
    )
    other.refresh_from_db()
    with pytest.raises(crypto.DecryptionError):
        security_card_codes(other)
    minnie_user = User.objects.create_user(username="minnie01", password="Long-pass-2031!", customer=minnie)
    challenge = security_card_challenge(card=other, actor=minnie_user, now=T0)
    with pytest.raises(crypto.DecryptionError):
        security_card_verify(card=other, answer=_right(issued, challenge), actor=minnie_user, now=T0)


# --- Challenge ----------------------------------------------------------------------------------


def test_challenge_is_two_distinct_numbers_with_the_anti_phishing_notice(card, alice_user):
    challenge = security_card_challenge(card=card, actor=alice_user, now=T0)
    assert challenge.created
    assert 1 <= challenge.first <= 30 and 1 <= challenge.second <= 30 and challenge.first != challenge.second
    assert challenge.expires_at == T0 + dt.timedelta(minutes=5)
    assert challenge.notice is ANTI_PHISHING_NOTICE
    with translation.override("en"):
        assert "never asks for all the numbers" in str(ANTI_PHISHING_NOTICE)
    assert _actions(card) == ["security_card.issue", "security_card.challenge"]


def test_the_same_challenge_survives_refreshes_until_it_expires(card, alice_user):
    """Asking again within 5 minutes returns the same numbers (valid at 4:59); at 5:00 a new one."""
    first = security_card_challenge(card=card, actor=alice_user, now=T0)
    for seconds in (1, 60, 299):
        again = security_card_challenge(card=card, actor=alice_user, now=T0 + dt.timedelta(seconds=seconds))
        assert (again.first, again.second, again.expires_at, again.created) == (
            first.first,
            first.second,
            first.expires_at,
            False,
        )
    renewed = security_card_challenge(card=card, actor=alice_user, now=T0 + dt.timedelta(minutes=5))
    assert renewed.created and renewed.expires_at == T0 + dt.timedelta(minutes=10)
    # Only the two challenges that were made are in the trail, not the refreshes.
    assert _actions(card).count("security_card.challenge") == 2


def test_challenge_survives_a_wrong_answer(issued, alice_user):
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=alice_user, now=T0)
    again = security_card_challenge(card=issued.card, actor=alice_user, now=T0 + dt.timedelta(seconds=10))
    assert (again.first, again.second, again.created) == (challenge.first, challenge.second, False)


def test_only_the_customer_or_a_permitted_actor_may_ask_or_answer(card, minnie, teller):
    """Another customer, a teller without the permission and an unpermitted job are refused."""
    stranger = User.objects.create_user(username="minnie01", password="Long-pass-2031!", customer=minnie)
    for actor in (stranger, teller, system_actor("test_job")):
        with pytest.raises(PermissionDenied):
            security_card_challenge(card=card, actor=actor, now=T0)
        with pytest.raises(PermissionDenied):
            security_card_verify(card=card, answer="1234", actor=actor, now=T0)
    job = system_actor("phone_centre", ["otp.verify_securitycard"])
    assert security_card_challenge(card=card, actor=job, now=T0).created


# --- Verify -------------------------------------------------------------------------------------


def test_right_answer_is_accepted_and_consumes_the_challenge(issued, alice_user):
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    result = security_card_verify(card=issued.card, answer=_right(issued, challenge), actor=alice_user, now=T0)
    assert result.ok and result.refusal is None and result.message == ""
    replay = security_card_verify(card=issued.card, answer=_right(issued, challenge), actor=alice_user, now=T0)
    assert not replay.ok and replay.refusal is Refusal.NO_CHALLENGE
    assert _actions(issued.card)[-2:] == ["security_card.verified", "security_card.verify_refused"]


def test_answer_without_a_challenge_is_refused_and_not_counted(issued, alice_user):
    result = security_card_verify(card=issued.card, answer="1234", actor=alice_user, now=T0)
    assert result.refusal is Refusal.NO_CHALLENGE
    issued.card.refresh_from_db()
    assert issued.card.failures == 0


def test_answer_at_4_59_works_and_at_5_00_the_challenge_has_expired(issued, alice, teller, alice_user):
    """Both sides of the 5-minute window; an expired answer is not counted as wrong."""
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    late = T0 + dt.timedelta(minutes=5)
    result = security_card_verify(card=issued.card, answer=_right(issued, challenge), actor=alice_user, now=late)
    assert not result.ok and result.refusal is Refusal.EXPIRED_CHALLENGE
    issued.card.refresh_from_db()
    assert issued.card.failures == 0

    fresh = security_card_issue(customer=alice, actor=teller)
    challenge = security_card_challenge(card=fresh.card, actor=alice_user, now=T0)
    just_in_time = T0 + dt.timedelta(minutes=4, seconds=59)
    result = security_card_verify(card=fresh.card, answer=_right(fresh, challenge), actor=alice_user, now=just_in_time)
    assert result.ok


def test_four_wrong_answers_then_a_right_one_works_and_resets_the_count(issued, alice_user):
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    for attempt in range(1, 5):
        result = security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=alice_user, now=T0)
        assert (result.ok, result.refusal, result.failures, result.tries_left) == (
            False,
            Refusal.WRONG,
            attempt,
            5 - attempt,
        )
    result = security_card_verify(card=issued.card, answer=_right(issued, challenge), actor=alice_user, now=T0)
    assert result.ok
    issued.card.refresh_from_db()
    assert issued.card.failures == 0 and issued.card.status == SecurityCard.Status.ACTIVE
    # The count starts again: four more wrong answers still do not lock.
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    for _ in range(4):
        security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=alice_user, now=T0)
    issued.card.refresh_from_db()
    assert issued.card.status == SecurityCard.Status.ACTIVE and issued.card.failures == 4


def _lock(issued, actor) -> None:
    challenge = security_card_challenge(card=issued.card, actor=actor, now=T0)
    for _ in range(5):
        result = security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=actor, now=T0)
    assert result.refusal is Refusal.LOCKED


def test_the_fifth_wrong_answer_locks_the_card(issued, alice_user):
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    for _ in range(4):
        security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=alice_user, now=T0)
    fifth = security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=alice_user, now=T0)
    assert (fifth.ok, fifth.refusal, fifth.failures, fifth.tries_left) == (False, Refusal.LOCKED, 5, 0)
    assert fifth.message == str(ERR_CARD_LOCKED)
    issued.card.refresh_from_db()
    assert issued.card.status == SecurityCard.Status.LOCKED and issued.card.locked_at == T0
    assert issued.card.challenge_first is None
    assert _actions(issued.card)[-2:] == ["security_card.verify_failed", "security_card.lock"]


def test_a_locked_card_refuses_even_the_right_answer_and_gives_no_challenge(issued, alice_user):
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    for _ in range(5):
        security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=alice_user, now=T0)
    result = security_card_verify(card=issued.card, answer=_right(issued, challenge), actor=alice_user, now=T0)
    assert not result.ok and result.refusal is Refusal.LOCKED
    with pytest.raises(SecurityCardUnavailable) as refused:
        security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    assert refused.value.refusal is Refusal.LOCKED
    assert isinstance(refused.value, ValidationError) and refused.value.code == "security_card_locked"
    issued.card.refresh_from_db()
    assert issued.card.failures == 5


def test_a_retired_card_refuses_answers_and_challenges(issued, alice, teller, alice_user):
    challenge = security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    security_card_issue(customer=alice, actor=teller)
    result = security_card_verify(card=issued.card, answer=_right(issued, challenge), actor=alice_user, now=T0)
    assert not result.ok and result.refusal is Refusal.RETIRED
    with pytest.raises(SecurityCardUnavailable) as refused:
        security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    assert refused.value.refusal is Refusal.RETIRED


def test_a_malformed_answer_counts_as_wrong(issued, alice_user):
    security_card_challenge(card=issued.card, actor=alice_user, now=T0)
    result = security_card_verify(card=issued.card, answer="12", actor=alice_user, now=T0)
    assert result.refusal is Refusal.WRONG and result.failures == 1


# --- Unlock: only through a manager-approved request (책임자 승인) ---------------------------------


@pytest.fixture
def locked_card(issued, alice_user) -> SecurityCard:
    _lock(issued, alice_user)
    issued.card.refresh_from_db()
    return issued.card


def _request_unlock(customer: Customer, actor: User) -> StaffRequest:
    return account_services.staff_request_create(
        kind=Kind.SECURITY_CARD_UNLOCK, customer=customer, reason="고객 본인 확인 후 잠금 해제", actor=actor
    )


def test_teller_cannot_unlock_directly(alice, teller, locked_card):
    """No direct path: without an approved request, and without the manager's permission, refused."""
    request = _request_unlock(alice, teller)
    with pytest.raises(PermissionDenied):
        security_card_unlock(request=request, actor=teller)
    with pytest.raises(PermissionDenied):
        account_services.staff_request_approve(request=request, actor=teller)
    locked_card.refresh_from_db()
    assert locked_card.status == SecurityCard.Status.LOCKED


def test_manager_approval_of_a_tellers_request_unlocks_the_card_once(alice, teller, manager, locked_card, issued):
    request = _request_unlock(alice, teller)
    assert request.payload == {"card": locked_card.pk, "serial": locked_card.serial}
    approved = account_services.staff_request_approve(request=request, actor=manager, note="신분증 확인")
    assert approved.state == StaffRequest.State.EXECUTED
    locked_card.refresh_from_db()
    assert locked_card.status == SecurityCard.Status.ACTIVE
    assert locked_card.failures == 0 and locked_card.locked_at is None
    assert _actions(locked_card)[-1] == "security_card.unlock"
    unlock_event = AuditEvent.objects.get(action="security_card.unlock")
    assert unlock_event.actor == manager and unlock_event.details["staff_request"] == request.pk
    # Replayed: refused, the request is used.
    with pytest.raises(ValidationError):
        security_card_unlock(request=approved, actor=manager)
    # The card works again.
    alice_user = User.objects.get(username="alice01")
    challenge = security_card_challenge(card=locked_card, actor=alice_user, now=T0)
    assert security_card_verify(card=locked_card, answer=_right(issued, challenge), actor=alice_user, now=T0).ok


def test_the_requester_cannot_approve_their_own_unlock(alice, manager, locked_card):
    request = _request_unlock(alice, manager)
    with pytest.raises(PermissionDenied):
        account_services.staff_request_approve(request=request, actor=manager)
    locked_card.refresh_from_db()
    assert locked_card.status == SecurityCard.Status.LOCKED


def test_an_unlock_request_needs_a_locked_card(alice, teller, card):
    with pytest.raises(ValidationError) as refused:
        _request_unlock(alice, teller)
    assert refused.value.code == "security_card_not_locked"


def test_after_an_approved_unlock_the_card_can_be_replaced(alice, teller, manager, locked_card):
    """Unlock first (maker-checker), then a reissue retires the unlocked card and issues a new one."""
    request = _request_unlock(alice, teller)
    with pytest.raises(ValidationError):
        security_card_issue(customer=alice, actor=teller)
    account_services.staff_request_approve(request=request, actor=manager)
    new = security_card_issue(customer=alice, actor=teller)
    locked_card.refresh_from_db()
    assert locked_card.status == SecurityCard.Status.RETIRED
    assert new.card.status == SecurityCard.Status.ACTIVE


# --- A wrong answer counts even when the caller then refuses (its own transaction) ---------------


@pytest.mark.django_db(transaction=True)
def test_a_wrong_answer_stays_counted_when_the_caller_refuses():
    """The verify commits on its own: the caller raising afterwards does not undo the count."""
    issuer = system_actor("card_issue_test", ["otp.add_securitycard"])
    customer = Customer.objects.create(
        kind=Customer.Kind.CORPORATION, name="(주)테스트", phone="01055556666", brn="2208112345"
    )
    user = User.objects.create_user(username="corp01", password="Long-pass-2031!", customer=customer)
    issued = security_card_issue(customer=customer, actor=issuer)
    challenge = security_card_challenge(card=issued.card, actor=user, now=T0)

    def transfer_that_refuses() -> None:
        result = security_card_verify(card=issued.card, answer=_wrong(issued, challenge), actor=user, now=T0)
        if not result.ok:
            raise ValidationError(result.message)

    with pytest.raises(ValidationError):
        transfer_that_refuses()
    assert SecurityCard.objects.get(pk=issued.card.pk).failures == 1
    assert AuditEvent.objects.filter(action="security_card.verify_failed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_wrong_answers_sent_at_once_are_all_counted(requires_postgres):
    """Five connections answer wrong at the same instant: the row lock counts each, and the card locks."""
    import threading

    issuer = system_actor("card_issue_test", ["otp.add_securitycard"])
    customer = Customer.objects.create(
        kind=Customer.Kind.CORPORATION, name="(주)동시성", phone="01055557777", brn="2208112345"
    )
    user = User.objects.create_user(username="corp02", password="Long-pass-2031!", customer=customer)
    issued = security_card_issue(customer=customer, actor=issuer)
    challenge = security_card_challenge(card=issued.card, actor=user, now=T0)
    wrong = _wrong(issued, challenge)
    barrier = threading.Barrier(5)
    results: list[object] = [None] * 5

    def answer(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = security_card_verify(card=issued.card, answer=wrong, actor=user, now=T0)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each connection got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    refusals = sorted(getattr(r, "refusal", r).value for r in results)  # type: ignore[union-attr]
    assert refusals == ["locked", "wrong", "wrong", "wrong", "wrong"], results
    card = SecurityCard.objects.get(pk=issued.card.pk)
    assert card.failures == 5 and card.status == SecurityCard.Status.LOCKED
