"""The e-banking agreement pages, end to end through the test client: online registration, ID
lookup, online release of a suspension, and the sign-in wiring (wrong entries, use, suspended and
ended agreements). Refusals, skipped steps, expiry, the deadline boundary and bad input included."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts import accountnumbers, services
from accounts import forms as account_forms
from accounts.ebanking_views import FLOW_SECONDS, MSG_START_AGAIN, REGISTER, RELEASE
from accounts.models import Account, Agreement, Customer, User
from accounts.services import agreement_online as online
from accounts.services import agreements as svc
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.timeutil import KST
from certcenter import services as certcenter_services
from otp import securitycard as card_rules
from otp import totp
from otp.models import AdditionalAuthChallenge, SecurityCard
from otp.services import (
    ANTI_PHISHING_NOTICE,
    IssuedSecurityCard,
    otp_register_at_branch,
    otp_tokens_import,
    security_card_issue,
)
from otp.services.verification import REFUSAL_MESSAGES, Refusal
from tests.accounts.release_signing import CA_ACTOR, RELEASE_SIGN, Cert, issue_certificate, post_signature
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = pytest.mark.django_db

State = Agreement.State
APPLIED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=KST)  # a Monday: register by Friday 23:59:59 KST
LAST_SECOND = dt.datetime(2026, 3, 6, 23, 59, 59, tzinfo=KST)
DEADLINE_PASSED = dt.datetime(2026, 3, 7, 0, 0, 0, tzinfo=KST)
LATER = dt.datetime(2026, 4, 1, 9, 0, tzinfo=KST)
LOGIN_PASSWORD = "Dasom-bank-2026!"
ALICE_PHONE_MASKED = "010-****-9753"
OTHER_IP = "198.51.100.20"
WEB = svc.agreement_web_actor()
SERIAL, SEED = "OTP0000000101", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

REGISTER_URL = reverse("agreement_register")
REGISTER_MEDIUM = reverse("agreement_register_medium")
REGISTER_LOGIN = reverse("agreement_register_login")
REGISTER_DONE = reverse("agreement_register_done")
FIND_ID = reverse("agreement_find_id")
RELEASE_URL = reverse("agreement_release")
RELEASE_MEDIUM = reverse("agreement_release_medium")
RELEASE_PHONE = reverse("agreement_release_phone")
RELEASE_SEND = reverse("agreement_release_phone_send")
RELEASE_DONE = reverse("agreement_release_done")
LOGIN = reverse("login")


# --- Helpers ------------------------------------------------------------------------------------


def _html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def _shown(message: object) -> str:
    """A message as the page shows it (HTML-escaped)."""
    return str(escape(str(message)))


def _message_texts(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def _details(customer: Customer, account: Account, **overrides: str) -> dict[str, str]:
    data = {"name": customer.name, "account_number": account.number_display, "account_password": ACCOUNT_PASSWORD}
    data.update(overrides)
    if "id_number" not in data:
        data["id_number"] = services.customer_rrn(customer)
    return data


def _lookup_details(customer: Customer, account: Account, **overrides: str) -> dict[str, str]:
    assert customer.birth_date is not None
    return _details(customer, account, **{"id_number": customer.birth_date.strftime("%Y%m%d"), **overrides})


def _card_answer(issued: IssuedSecurityCard, response, *, wrong: bool = False) -> dict[str, str]:  # type: ignore[no-untyped-def]
    challenge = response.context["challenge"]
    right = card_rules.expected_answer(
        issued.codes, card_rules.Challenge(first=challenge.card_first, second=challenge.card_second)
    )
    answer = f"{(int(right) + 1) % 10000:04d}" if wrong else right
    return {"first_half": answer[:2], "second_half": answer[2:]}


def _sent_code() -> str:
    found = re.search(r"\d{6}", Notification.objects.filter(purpose="additional_auth").latest("pk").body)
    assert found is not None
    return found.group(0)


def _sign_in(username: str, password: str, *, ip: str = "203.0.113.10"):  # type: ignore[no-untyped-def]
    """One sign-in attempt from a fresh browser."""
    return Client().post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _signed_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def _is_pause_page(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 429 and "registration/signin_locked.html" in [t.name for t in response.templates]


def _register_by_services(customer: Customer, account: Account, username: str = "alice2026") -> Agreement:
    agreement = online.agreement_identify(
        purpose="register",
        name=customer.name,
        id_number=services.customer_rrn(customer),
        account_number=account.number,
        account_password=ACCOUNT_PASSWORD,
        actor=WEB,
    )
    return services.agreement_register_online(
        agreement=agreement, medium_verified=True, username=username, password=LOGIN_PASSWORD, actor=WEB
    )


def _suspend_wrong_entries(agreement: Agreement) -> None:
    for _ in range(5):
        services.agreement_record_wrong_entry(agreement=agreement, actor=WEB)


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(APPLIED, tick=False) as traveller:
        yield traveller


@pytest.fixture
def applied(clock, alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return services.agreement_apply(
        customer=alice, withdrawal_accounts=[alice_account], documents=["resident_card"], actor=teller
    )


@pytest.fixture
def card(alice, teller) -> IssuedSecurityCard:  # type: ignore[no-untyped-def]
    return security_card_issue(customer=alice, actor=teller)


@pytest.fixture
def active(applied, alice, alice_account) -> Agreement:  # type: ignore[no-untyped-def]
    return _register_by_services(alice, alice_account)


@pytest.fixture
def browser() -> Client:
    return Client()


@pytest.fixture
def cert(active, alice_account) -> Cert:  # type: ignore[no-untyped-def]
    """Alice's joint certificate, issued while internet banking is in normal use (needed to release)."""
    certcenter_services.ca_init(actor=CA_ACTOR)
    return issue_certificate(active, alice_account)


def _to_medium(browser: Client, url: str, details: dict[str, str]):  # type: ignore[no-untyped-def]
    response = browser.post(url, details)
    assert response.status_code == 302, _html(response)
    return browser.get(response["Location"])


# --- Online registration (인터넷뱅킹 등록) -----------------------------------------------------------


def test_registration_end_to_end_with_a_security_card_then_log_in(
    applied, card, alice, alice_account, browser, clock
) -> None:  # type: ignore[no-untyped-def]
    """Details → two card numbers → user ID and password (rules shown up front) → done → log in."""
    first = browser.get(REGISTER_URL)
    assert first.status_code == 200
    assert "no-store" in first["Cache-Control"]
    assert _shown(online.ERR_USER_ID_FORMAT) in _html(first)
    assert 'id="password-rules"' in _html(first)

    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    assert medium.status_code == 200
    assert medium.context["challenge"].card_first is not None
    assert _shown(ANTI_PHISHING_NOTICE) in _html(medium)

    login_step = browser.post(REGISTER_MEDIUM, _card_answer(card, medium))
    assert login_step["Location"] == REGISTER_LOGIN
    page = browser.get(REGISTER_LOGIN)
    assert _shown(online.ERR_USER_ID_FORMAT) in _html(page)
    assert 'id="password-rules"' in _html(page)

    done = browser.post(
        REGISTER_LOGIN, {"username": "Alice2026", "password1": LOGIN_PASSWORD, "password2": LOGIN_PASSWORD}
    )
    assert done["Location"] == REGISTER_DONE
    assert "alice2026" in _html(browser.get(REGISTER_DONE))
    applied.refresh_from_db()
    assert (applied.state, applied.user.username) == (State.ACTIVE, "alice2026")
    assert AuditEvent.objects.filter(
        action="security_medium.verified", details__purpose="agreement_registration"
    ).exists()

    clock.move_to(LATER)
    assert _signed_in(_sign_in("alice2026", LOGIN_PASSWORD))
    applied.refresh_from_db()
    assert applied.last_used_at == LATER


def test_registration_with_an_otp_asks_for_its_six_digits(applied, alice, alice_account, teller, browser) -> None:  # type: ignore[no-untyped-def]
    """An OTP customer answers with the OTP's current number; a malformed one is not counted."""
    row = {"serial": SERIAL, "seed": SEED, "kind": "hardware", "issuer": "088", "warranty": "2036-12-31"}
    otp_tokens_import(rows=[(2, row)], actor=system_actor("test:import", ["otp.add_otptoken"]))
    otp_register_at_branch(customer=alice, serial=SERIAL, actor=teller)
    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    assert medium.context["is_otp"]
    malformed = browser.post(REGISTER_MEDIUM, {"code": "12a456"})
    assert _shown(account_forms.ERR_OTP_CODE) in _html(malformed)
    assert not AuditEvent.objects.filter(action="security_medium.refused").exists()
    code = totp.code_at(SEED, timezone.now(), step_seconds=60)
    assert browser.post(REGISTER_MEDIUM, {"code": f"{code[:3]} {code[3:]}"})["Location"] == REGISTER_LOGIN


def test_registration_deadline_through_the_page(applied, card, alice, alice_account, clock) -> None:  # type: ignore[no-untyped-def]
    """Applied Monday: accepted at Friday 23:59:59 KST, refused at Saturday 00:00:00 (no lapse job ran)."""
    clock.move_to(LAST_SECOND)
    assert Client().post(REGISTER_URL, _details(alice, alice_account))["Location"] == REGISTER_MEDIUM

    clock.move_to(DEADLINE_PASSED)
    refused = Client().post(REGISTER_URL, _details(alice, alice_account))
    assert refused.status_code == 200
    assert _shown(online.ERR_REGISTRATION_CLOSED) in _html(refused)
    applied.refresh_from_db()
    assert applied.state == State.APPLIED


def test_a_flow_started_before_the_deadline_is_refused_at_the_login_step_after_it(  # type: ignore[no-untyped-def]
    applied, card, alice, alice_account, browser, clock
) -> None:
    """The last step re-checks the deadline: the refusal page, no login created, the flow ended."""
    clock.move_to(LAST_SECOND - dt.timedelta(minutes=1))
    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    browser.post(REGISTER_MEDIUM, _card_answer(card, medium))
    clock.move_to(DEADLINE_PASSED)
    refused = browser.post(
        REGISTER_LOGIN, {"username": "alice2026", "password1": LOGIN_PASSWORD, "password2": LOGIN_PASSWORD}
    )
    assert refused.status_code == 200
    assert _shown(online.ERR_REGISTRATION_CLOSED) in _html(refused)
    assert not User.objects.filter(username="alice2026").exists()
    assert browser.get(REGISTER_LOGIN)["Location"] == REGISTER_URL


def test_registration_steps_cannot_be_skipped(applied, card, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    """Later steps without the earlier ones send the visitor to the start; nothing is created."""
    login = {"username": "alice2026", "password1": LOGIN_PASSWORD, "password2": LOGIN_PASSWORD}
    for url, data in ((REGISTER_MEDIUM, {"first_half": "12", "second_half": "34"}), (REGISTER_LOGIN, login)):
        response = browser.post(url, data)
        assert response["Location"] == REGISTER_URL
        assert str(MSG_START_AGAIN) in _message_texts(response)
    assert browser.get(REGISTER_DONE)["Location"] == LOGIN

    _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    assert browser.post(REGISTER_LOGIN, login)["Location"] == REGISTER_URL  # the medium step was skipped
    assert not User.objects.filter(username="alice2026").exists()
    # The release flow's steps do not open either.
    assert browser.get(RELEASE_MEDIUM)["Location"] == RELEASE_URL


def test_a_flow_expires_10_minutes_after_identification(applied, card, alice, alice_account, clock) -> None:  # type: ignore[no-untyped-def]
    """Open at exactly 10 minutes; one second later the visitor starts again."""
    on_time, late = Client(), Client()
    _to_medium(on_time, REGISTER_URL, _details(alice, alice_account))
    _to_medium(late, REGISTER_URL, _details(alice, alice_account))
    clock.shift(FLOW_SECONDS)
    assert on_time.get(REGISTER_MEDIUM).status_code == 200
    clock.shift(1)
    response = late.get(REGISTER_MEDIUM)
    assert response["Location"] == REGISTER_URL
    assert str(MSG_START_AGAIN) in _message_texts(response)


def test_the_session_holds_neither_the_rrn_nor_the_account_password(
    applied, card, alice, alice_account, browser
) -> None:  # type: ignore[no-untyped-def]
    """Only the agreement id, the step, the medium kind and the expiry."""
    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    browser.post(REGISTER_MEDIUM, _card_answer(card, medium))
    stored = dict(browser.session.items())
    text = repr(stored)
    rrn = services.customer_rrn(alice)
    assert rrn not in text and rrn[:6] not in text and ACCOUNT_PASSWORD not in text
    assert set(stored[REGISTER.key]) == {"agreement", "step", "expires", "medium"}


def test_a_wrong_card_answer_says_how_many_tries_are_left_and_a_malformed_one_is_not_counted(  # type: ignore[no-untyped-def]
    applied, card, alice, alice_account, browser
) -> None:
    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    malformed = browser.post(REGISTER_MEDIUM, {"first_half": "1", "second_half": "xx"})
    assert _shown(account_forms.ERR_CARD_HALF) in _html(malformed)
    card.card.refresh_from_db()
    assert card.card.failures == 0
    wrong = browser.post(REGISTER_MEDIUM, _card_answer(card, medium, wrong=True))
    assert wrong.status_code == 200
    assert _shown(REFUSAL_MESSAGES[Refusal.WRONG]) in _html(wrong)
    assert "4" in _html(wrong)
    card.card.refresh_from_db()
    assert card.card.failures == 1
    # The same two numbers are asked again.
    assert wrong.context["challenge"].card_first == medium.context["challenge"].card_first


def test_a_customer_without_a_security_medium_is_told_to_visit_a_branch(applied, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    assert _shown(REFUSAL_MESSAGES[Refusal.NO_MEDIUM]) in _html(medium)
    assert browser.get(REGISTER_MEDIUM)["Location"] == REGISTER_URL  # the flow ended


def test_five_wrong_card_answers_lock_the_card_and_end_the_flow(applied, card, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    for _ in range(5):
        response = browser.post(REGISTER_MEDIUM, _card_answer(card, medium, wrong=True))
    assert _shown(REFUSAL_MESSAGES[Refusal.LOCKED]) in _html(response)
    card.card.refresh_from_db()
    assert card.card.status == SecurityCard.Status.LOCKED


def test_the_login_step_shows_the_services_refusals_next_to_the_fields(
    applied, card, alice, alice_account, browser
) -> None:  # type: ignore[no-untyped-def]
    """A taken ID, a weak password, passwords that differ, a malformed ID: messages, no 500, flow kept."""
    User.objects.create_user(username="taken001")
    medium = _to_medium(browser, REGISTER_URL, _details(alice, alice_account))
    browser.post(REGISTER_MEDIUM, _card_answer(card, medium))
    taken = browser.post(
        REGISTER_LOGIN, {"username": "taken001", "password1": LOGIN_PASSWORD, "password2": LOGIN_PASSWORD}
    )
    assert _shown(online.ERR_USER_ID_TAKEN) in _html(taken)
    weak = browser.post(REGISTER_LOGIN, {"username": "alice2026", "password1": "12345", "password2": "12345"})
    assert weak.status_code == 200 and weak.context["form"].errors["password1"]
    differ = browser.post(REGISTER_LOGIN, {"username": "alice2026", "password1": LOGIN_PASSWORD, "password2": "x"})
    assert _shown(account_forms.ERR_PASSWORDS_DIFFER) in _html(differ)
    shape = browser.post(
        REGISTER_LOGIN, {"username": "9" * 30, "password1": LOGIN_PASSWORD, "password2": LOGIN_PASSWORD}
    )
    assert shape.status_code == 200 and shape.context["form"].errors["username"]
    assert (
        browser.post(
            REGISTER_LOGIN, {"username": "alice2026", "password1": LOGIN_PASSWORD, "password2": LOGIN_PASSWORD}
        )["Location"]
        == REGISTER_DONE
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "x" * 500, "id_number": "abc", "account_number": "1" * 50, "account_password": "12345"},
        {"name": " ", "id_number": "900101-1234567", "account_number": "997-01-000001-0", "account_password": "ab"},
        {
            "name": "김앨리스",
            "id_number": "\x00",
            "account_number": "\u0661\u0662",
            "account_password": "\u0661\u0662\u0663\u0664",
        },
    ],
)
def test_bad_input_gets_messages_never_a_500(data: dict[str, Any], applied, browser) -> None:  # type: ignore[no-untyped-def]
    for url in (REGISTER_URL, FIND_ID, RELEASE_URL):
        response = browser.post(url, data)
        assert response.status_code == 200
        assert response.context["form"].errors
    assert not AuditEvent.objects.filter(action="agreement.identify_refused").exists()  # never reached a service


def test_the_flows_refuse_a_post_without_the_csrf_token(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    browser = Client(enforce_csrf_checks=True)
    for url in (REGISTER_URL, FIND_ID, RELEASE_URL):
        assert browser.post(url, _details(alice, alice_account)).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="agreement.identify").exists()


# --- ID lookup (아이디 찾기) ------------------------------------------------------------------------


def test_find_id_shows_the_masked_id_and_texts_the_full_one(active, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    response = browser.post(FIND_ID, _lookup_details(alice, alice_account))
    assert response.status_code == 200
    html = _html(response)
    assert "ali******" in html and "alice2026" not in html
    assert ALICE_PHONE_MASKED in html
    sms = Notification.objects.get(purpose="agreement_user_id_lookup")
    assert sms.to == alice.phone and "alice2026" in sms.body


def test_find_id_with_wrong_details_reveals_nothing(active, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    """Unknown account, wrong name, wrong birth date, wrong password: one message; no SMS."""
    other = accountnumbers.display(accountnumbers.build("997", "01", 999_999))
    for override in (
        {"account_number": other},
        {"name": "홍길동"},
        {"id_number": "19000101"},
        {"account_password": "0000"},
    ):
        response = browser.post(FIND_ID, _lookup_details(alice, alice_account, **override))
        assert response.status_code == 200
        assert _shown(online.ERR_DETAILS_MISMATCH) in _html(response)
    assert not Notification.objects.filter(purpose="agreement_user_id_lookup").exists()


def test_find_id_for_a_suspended_agreement_points_to_the_release(active, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    _suspend_wrong_entries(active)
    response = browser.post(FIND_ID, _lookup_details(alice, alice_account))
    assert _shown(online.ERR_LOOKUP_SUSPENDED) in _html(response)
    assert f'href="{RELEASE_URL}"' in _html(response)


def test_find_id_before_registration_says_so(applied, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    response = browser.post(FIND_ID, _lookup_details(alice, alice_account))
    assert _shown(online.ERR_NOT_REGISTERED_YET) in _html(response)


def test_five_wrong_entries_on_the_pages_suspend_the_agreement_with_one_sms(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """Wrong identifying data counts on the active agreement: the 5th suspends it (one SMS). The same
    page from the same address is then paused by the sign-in throttle (keyed on the account)."""
    responses = [Client().post(FIND_ID, _lookup_details(alice, alice_account, name="누군가")) for _ in range(5)]
    assert [r.status_code for r in responses[:4]] == [200] * 4
    assert _is_pause_page(responses[4])
    active.refresh_from_db()
    assert (active.state, active.suspension_reason) == (State.SUSPENDED, Agreement.SuspensionReason.WRONG_ENTRIES)
    assert Notification.objects.filter(purpose="agreement_wrong_entry_suspension").count() == 1
    assert _is_pause_page(Client().post(FIND_ID, _lookup_details(alice, alice_account)))
    elsewhere = Client().post(FIND_ID, _lookup_details(alice, alice_account), REMOTE_ADDR=OTHER_IP)
    assert _shown(online.ERR_LOOKUP_SUSPENDED) in _html(elsewhere)


def test_four_wrong_entries_then_a_right_one_reset_the_count(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        Client().post(FIND_ID, _lookup_details(alice, alice_account, name="누군가"))
    active.refresh_from_db()
    assert active.wrong_entries == 4
    assert "ali******" in _html(Client().post(FIND_ID, _lookup_details(alice, alice_account)))
    active.refresh_from_db()
    assert (active.state, active.wrong_entries) == (State.ACTIVE, 0)


def test_one_address_cannot_walk_many_accounts(active, settings) -> None:  # type: ignore[no-untyped-def]
    """Mismatches over many account numbers (each under its own limit) pause the address."""
    for serial in range(settings.SIGNIN_IP_FAILURE_LIMIT - 1):
        number = accountnumbers.display(accountnumbers.build("997", "01", 500_000 + serial))
        data = {"name": "홍길동", "id_number": "19900101", "account_number": number, "account_password": "1357"}
        assert Client().post(FIND_ID, data).status_code == 200
    number = accountnumbers.display(accountnumbers.build("997", "01", 600_000))
    data = {"name": "홍길동", "id_number": "19900101", "account_number": number, "account_password": "1357"}
    assert _is_pause_page(Client().post(FIND_ID, data))
    assert _is_pause_page(Client().post(REGISTER_URL, {**data, "id_number": "900101-1234567"}))
    # The same per-address count as sign-in (the test client's address).
    assert _is_pause_page(_sign_in("anyone01", "whatever-password", ip="127.0.0.1"))


# --- Online release (일시정지 해제) ------------------------------------------------------------------


def _release_to_phone(browser: Client, card: IssuedSecurityCard, alice: Customer, account: Account) -> None:
    medium = _to_medium(browser, RELEASE_URL, _details(alice, account))
    assert browser.post(RELEASE_MEDIUM, _card_answer(card, medium))["Location"] == RELEASE_PHONE


def _release_to_sign(browser: Client, card: IssuedSecurityCard, alice: Customer, account: Account) -> None:
    _release_to_phone(browser, card, alice, account)
    browser.post(RELEASE_SEND, {"channel": "sms"})
    assert browser.post(RELEASE_PHONE, {"phone_code": _sent_code()})["Location"] == RELEASE_SIGN


def test_release_end_to_end_for_a_wrong_entry_suspension(
    active, cert, card, alice, alice_account, browser, clock, settings
) -> None:  # type: ignore[no-untyped-def]
    """Details → security card → SMS code → certificate signature → released; the verification is
    spent with it. No ARS button where the bank offers no ARS calls."""
    settings.ARS_BACKEND = ""
    _suspend_wrong_entries(active)
    clock.move_to(LATER)
    _release_to_phone(browser, card, alice, alice_account)
    phone = browser.get(RELEASE_PHONE)
    assert ALICE_PHONE_MASKED in _html(phone) and 'value="ars"' not in _html(phone)
    sent = browser.post(RELEASE_SEND, {"channel": "sms"})
    assert sent["Location"] == RELEASE_PHONE
    assert browser.post(RELEASE_PHONE, {"phone_code": _sent_code()})["Location"] == RELEASE_SIGN
    active.refresh_from_db()
    assert active.state == State.SUSPENDED  # the code alone releases nothing now
    done = post_signature(browser, cert)
    assert done["Location"] == RELEASE_DONE
    assert browser.get(RELEASE_DONE).status_code == 200
    active.refresh_from_db()
    assert (active.state, active.suspension_reason, active.wrong_entries) == (State.ACTIVE, "", 0)
    challenge = AdditionalAuthChallenge.objects.get(purpose=AdditionalAuthChallenge.Purpose.SUSPENSION_RELEASE)
    assert challenge.state == AdditionalAuthChallenge.State.USED
    assert AuditEvent.objects.filter(action="agreement.release", details__channel="online").exists()
    assert _signed_in(_sign_in("alice2026", LOGIN_PASSWORD))


def test_release_of_a_dormancy_suspension_offers_ars_when_available(
    active, cert, card, alice, alice_account, browser, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.ARS_BACKEND = "bankportal.notifications.backends.OutboxArsBackend"
    services.agreement_suspend(
        agreement=active, reason="dormant", actor=system_actor("dormancy", {"accounts.suspend_agreement"})
    )
    _release_to_phone(browser, card, alice, alice_account)
    assert 'value="ars"' in _html(browser.get(RELEASE_PHONE))
    browser.post(RELEASE_SEND, {"channel": "ars"})
    spoken = re.search(r"(\d \d \d \d \d \d)", Notification.objects.latest("pk").body)
    assert spoken is not None
    assert browser.post(RELEASE_PHONE, {"phone_code": spoken.group(1).replace(" ", "")})["Location"] == RELEASE_SIGN
    assert post_signature(browser, cert)["Location"] == RELEASE_DONE
    active.refresh_from_db()
    assert active.state == State.ACTIVE


def test_a_wrong_sms_code_says_how_many_tries_are_left(active, card, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    _suspend_wrong_entries(active)
    _release_to_phone(browser, card, alice, alice_account)
    browser.post(RELEASE_SEND, {"channel": "sms"})
    wrong = "000000" if _sent_code() != "000000" else "111111"
    response = browser.post(RELEASE_PHONE, {"phone_code": wrong})
    assert response.status_code == 200
    assert "4" in _html(response)
    malformed = browser.post(RELEASE_PHONE, {"phone_code": "12"})
    assert _shown(account_forms.ERR_SMS_CODE) in _html(malformed)
    bad_channel = browser.post(RELEASE_SEND, {"channel": "pigeon"})
    assert str(account_forms.ERR_SEND_CHANNEL) in _message_texts(bad_channel)
    active.refresh_from_db()
    assert active.state == State.SUSPENDED


def test_release_steps_cannot_be_skipped(active, card, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    """The code step needs the medium step, the signing step the code step; a verification made
    elsewhere releases nothing."""
    _suspend_wrong_entries(active)
    for url, data in (
        (RELEASE_MEDIUM, {}),
        (RELEASE_PHONE, {"phone_code": "123456"}),
        (RELEASE_SEND, {"channel": "sms"}),
        (RELEASE_SIGN, {"certificate": "AAAA", "signature": "AAAA"}),
    ):
        assert browser.post(url, data)["Location"] == RELEASE_URL
    assert browser.get(RELEASE_DONE)["Location"] == RELEASE_URL
    _to_medium(browser, RELEASE_URL, _details(alice, alice_account))
    assert browser.post(RELEASE_PHONE, {"phone_code": "123456"})["Location"] == RELEASE_URL
    assert browser.get(RELEASE_SIGN)["Location"] == RELEASE_URL
    assert not Notification.objects.filter(purpose="additional_auth").exists()
    active.refresh_from_db()
    assert active.state == State.SUSPENDED


def test_release_is_refused_for_other_reasons_and_states(applied, alice, alice_account, teller, browser, clock) -> None:  # type: ignore[no-untyped-def]
    """Not registered, lapsed (even before the job), active, staff-suspended: clear messages at step 1."""
    assert _shown(online.ERR_NOT_REGISTERED_YET) in _html(browser.post(RELEASE_URL, _details(alice, alice_account)))
    clock.move_to(DEADLINE_PASSED)
    assert _shown(online.ERR_APPLICATION_LAPSED) in _html(browser.post(RELEASE_URL, _details(alice, alice_account)))
    clock.move_to(APPLIED)
    active = _register_by_services(alice, alice_account)
    assert _shown(online.ERR_RELEASE_NOT_SUSPENDED) in _html(browser.post(RELEASE_URL, _details(alice, alice_account)))
    services.agreement_suspend(agreement=active, reason="staff", actor=teller)
    response = browser.post(RELEASE_URL, _details(alice, alice_account))
    assert _shown(svc.ERR_ONLINE_RELEASE_REASON) in _html(response)
    assert RELEASE.key not in browser.session


def test_a_suspension_changed_during_the_flow_is_refused_at_the_last_step(
    active, cert, card, alice, alice_account, teller, browser
) -> None:  # type: ignore[no-untyped-def]
    """The release service decides again: staff released and re-suspended it meanwhile → refusal page;
    the SMS verification stays unspent."""
    _suspend_wrong_entries(active)
    _release_to_sign(browser, card, alice, alice_account)
    text = browser.get(RELEASE_SIGN).context["text"]
    Agreement.objects.filter(pk=active.pk).update(suspension_reason=Agreement.SuspensionReason.STAFF)
    response = post_signature(browser, cert, text=text)
    assert response.status_code == 200
    assert _shown(svc.ERR_ONLINE_RELEASE_REASON) in _html(response)
    challenge = AdditionalAuthChallenge.objects.get(purpose=AdditionalAuthChallenge.Purpose.SUSPENSION_RELEASE)
    assert challenge.state == AdditionalAuthChallenge.State.VERIFIED


def test_the_security_centre_links_to_the_release(active, browser) -> None:  # type: ignore[no-untyped-def]
    browser.force_login(active.user)
    assert f'href="{RELEASE_URL}"' in _html(browser.get(reverse("security:centre")))


# --- Sign-in ------------------------------------------------------------------------------------


def test_the_login_page_links_to_registration_find_id_and_release(db) -> None:  # type: ignore[no-untyped-def]
    html = _html(Client().get(LOGIN))
    for url in (REGISTER_URL, FIND_ID, RELEASE_URL):
        assert f'href="{url}"' in html


def test_four_wrong_login_passwords_then_the_right_one_reset_and_record_use(active, clock) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        assert _sign_in("alice2026", "wrong-password").status_code == 200
    active.refresh_from_db()
    assert active.wrong_entries == 4
    clock.move_to(LATER)
    assert _signed_in(_sign_in("alice2026", LOGIN_PASSWORD))
    active.refresh_from_db()
    assert (active.state, active.wrong_entries, active.last_used_at) == (State.ACTIVE, 0, LATER)


def test_the_fifth_wrong_login_password_suspends_with_one_sms(active) -> None:  # type: ignore[no-untyped-def]
    """From several addresses (so the throttle does not pause first): the 5th suspends; the right
    password then gets the reason and the release link, and no session."""
    for n in range(5):
        _sign_in("alice2026", "wrong-password", ip=f"192.0.2.{n + 1}")
    active.refresh_from_db()
    assert (active.state, active.suspension_reason) == (State.SUSPENDED, Agreement.SuspensionReason.WRONG_ENTRIES)
    assert Notification.objects.filter(purpose="agreement_wrong_entry_suspension").count() == 1
    refused = _sign_in("alice2026", LOGIN_PASSWORD, ip=OTHER_IP)
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
    reason = Agreement.SuspensionReason.WRONG_ENTRIES.label
    assert _shown(account_forms.ERR_LOGIN_SUSPENDED_ONLINE % {"reason": reason}) in _html(refused)
    assert 'id="link-release-suspension"' in _html(refused)
    _sign_in("alice2026", "wrong-password", ip=OTHER_IP)  # a suspended agreement's count stays
    assert Notification.objects.filter(purpose="agreement_wrong_entry_suspension").count() == 1


def test_five_wrong_login_passwords_from_one_address_pause_and_still_count(active, settings) -> None:  # type: ignore[no-untyped-def]
    """The throttle answers the limit-th failure with its pause page; the agreement counts it too."""
    responses = [_sign_in("alice2026", "wrong-password") for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert _is_pause_page(responses[-1])
    active.refresh_from_db()
    assert active.state == State.SUSPENDED
    _sign_in("alice2026", "wrong-password")  # refused by the throttle before any password check
    assert AuditEvent.objects.filter(action="agreement.wrong_entry").count() == settings.AXES_FAILURE_LIMIT


def test_the_pause_page_points_to_the_release_which_also_lifts_the_pause(  # type: ignore[no-untyped-def]
    active, cert, card, alice, alice_account, settings
) -> None:
    """Five wrong passwords from one address: suspended and paused. The pause page links to the
    online release; once released (account password, card, SMS code, certificate) from that address, the
    right password signs in at once instead of waiting out the pause. Without the release it
    would still be paused."""
    address = "203.0.113.10"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        paused = _sign_in("alice2026", "wrong-password", ip=address)
    assert _is_pause_page(paused) and f'href="{RELEASE_URL}"' in _html(paused)
    assert _is_pause_page(_sign_in("alice2026", LOGIN_PASSWORD, ip=address))

    customer_browser = Client(REMOTE_ADDR=address)
    _release_to_sign(customer_browser, card, alice, alice_account)
    assert post_signature(customer_browser, cert)["Location"] == RELEASE_DONE

    assert _signed_in(_sign_in("alice2026", LOGIN_PASSWORD, ip=address))


def test_a_staff_suspension_refuses_sign_in_and_points_to_a_branch(active, teller) -> None:  # type: ignore[no-untyped-def]
    services.agreement_suspend(agreement=active, reason="staff", actor=teller)
    refused = _sign_in("alice2026", LOGIN_PASSWORD)
    assert not refused.wsgi_request.user.is_authenticated
    reason = Agreement.SuspensionReason.STAFF.label
    assert _shown(account_forms.ERR_LOGIN_SUSPENDED_BRANCH % {"reason": reason}) in _html(refused)
    assert 'id="link-release-suspension"' not in _html(refused)


def test_a_dormant_agreement_refuses_sign_in_with_the_release_link(active) -> None:  # type: ignore[no-untyped-def]
    services.agreement_suspend(
        agreement=active, reason="dormant", actor=system_actor("dormancy", {"accounts.suspend_agreement"})
    )
    refused = _sign_in("alice2026", LOGIN_PASSWORD)
    assert not refused.wsgi_request.user.is_authenticated
    assert 'id="link-release-suspension"' in _html(refused)


def test_an_ended_agreement_gets_a_clear_message_only_with_the_right_password(active, teller) -> None:  # type: ignore[no-untyped-def]
    services.agreement_terminate(agreement=active, actor=teller)
    right = _sign_in("alice2026", LOGIN_PASSWORD)
    assert not right.wsgi_request.user.is_authenticated
    assert _shown(account_forms.ERR_LOGIN_TERMINATED) in _html(right)
    wrong = _sign_in("alice2026", "wrong-password", ip=OTHER_IP)
    assert _shown(account_forms.ERR_LOGIN_TERMINATED) not in _html(wrong)
    assert wrong.context["form"].errors["__all__"]


def test_web_members_sign_in_as_before(db, django_user_model) -> None:  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user(username="webmember", password=LOGIN_PASSWORD)
    assert _sign_in("webmember", "wrong-password").status_code == 200
    assert _signed_in(_sign_in("webmember", LOGIN_PASSWORD))
    assert not AuditEvent.objects.filter(action__startswith="agreement.").exists()
