"""The customer's security centre (보안센터): my security media and tier, digital OTP enrollment,
registering another institution's OTP, and the accident report; who may open the pages; Korean
and English; and bad input answered with a message, never a 500."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyotp
import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from accounts.models import User
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.session_levels import SESSION_KEY, Level
from otp import totp
from otp.forms import ERR_CHANNEL, ERR_CODE_SHAPE, ERR_CONFIRM_REQUIRED, ERR_PHONE_CODE_SHAPE, ERR_SERIAL_SHAPE
from otp.models import AdditionalAuthChallenge, OtpRegistration, OtpToken
from otp.services import (
    ANTI_PHISHING_NOTICE,
    OTP_RESULT_MESSAGES,
    OtpResult,
    additional_auth_start,
    additional_auth_verify,
    digital_otp_enroll_start,
    otp_accident_report,
    otp_register_at_branch,
    otp_token_seed,
    otp_tokens_import,
    security_card_issue,
)
from otp.services.additional_auth import ERR_ARS_UNAVAILABLE, ERR_TOO_MANY_CODES, REFUSAL_MESSAGES, Refusal
from otp.services.digital_otp import ERR_PHONE_CHECK_REQUIRED
from otp.views import (
    ERR_NO_PENDING_ENROLLMENT,
    ERR_PHONE_TRIES_LEFT,
    MSG_ACCIDENT_REPORTED,
    MSG_DIGITAL_REGISTERED,
    MSG_OTP_REGISTERED,
    MSG_PHONE_CODE_SENT_ARS,
    MSG_PHONE_CODE_SENT_SMS,
    MSG_PHONE_VERIFIED,
    NOT_A_CUSTOMER,
    STAFF_NOT_A_CUSTOMER,
)

pytestmark = pytest.mark.django_db

OTHER_BANK = "088"
SEEDS = {
    "OTP0000000001": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    "OTP0000000002": "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U",
}
IMPORTER = system_actor("test:import", ["otp.add_otptoken"])
PASSWORD = "Long-pass-2031!"

CENTRE = reverse("security:centre")
DIGITAL = reverse("security:digital_otp")
DIGITAL_START = reverse("security:digital_otp_start")
PHONE_SEND = reverse("security:digital_otp_phone_send")
PHONE_VERIFY = reverse("security:digital_otp_phone_verify")
PHONE_CHECK = AdditionalAuthChallenge.Purpose.DIGITAL_OTP_ENROLL
ALICE_PHONE_MASKED = "010-****-9753"
REGISTER = reverse("security:otp_register")
ACCIDENT = reverse("security:accident_report")
PAGES = [CENTRE, DIGITAL, REGISTER, ACCIDENT]


@pytest.fixture
def tokens(db) -> None:
    rows = [
        (n, {"serial": serial, "seed": seed, "kind": "hardware", "issuer": OTHER_BANK, "warranty": "2036-12-31"})
        for n, (serial, seed) in enumerate(SEEDS.items(), start=2)
    ]
    otp_tokens_import(rows=rows, actor=IMPORTER)


@pytest.fixture
def alice_user(alice) -> User:
    return User.objects.create_user(username="alice01", password=PASSWORD, customer=alice)


@pytest.fixture
def signed_in(client, alice_user):  # type: ignore[no-untyped-def]
    client.force_login(alice_user)
    return client


@pytest.fixture
def registered(alice, teller, tokens) -> OtpRegistration:
    """Alice uses another institution's integrated OTP, registered at the branch."""
    return otp_register_at_branch(customer=alice, serial="OTP0000000001", actor=teller)


def _html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def _shown(message: object) -> str:
    """A message as the page shows it (HTML-escaped)."""
    return str(escape(str(message)))


def _current_code(serial: str) -> str:
    return totp.code_at(SEEDS[serial], timezone.now(), step_seconds=60)


def _wrong_code(seed: str, step_seconds: int) -> str:
    now = timezone.now()
    near = {
        totp.code_at_step(seed, totp.time_step(now, step_seconds) + k, step_seconds=step_seconds) for k in (-1, 0, 1, 2)
    }
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)


def _certificate_session(client) -> None:  # type: ignore[no-untyped-def]
    """What the certificate login will do (it is not built yet): raise the session's level."""
    session = client.session
    session[SESSION_KEY] = int(Level.CERTIFICATE)
    session.save()


def _secret_on_page(html: str) -> str:
    shown = re.search(r'<code id="otp-secret" data-otp-secret>(.*?)</code>', html, re.S)
    assert shown, "the page shows no setup key"
    return re.sub(r"<[^>]+>|\s", "", shown.group(1))


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def _sent_code() -> str:
    """The 6 digits of the latest text message (the customer reads their phone)."""
    found = re.search(r"\d{6}", Notification.objects.latest("id").body)
    assert found, "no code was sent"
    return found.group(0)


def _phone_checked(client) -> None:  # type: ignore[no-untyped-def]
    """Verify the phone on the page: send a code by SMS and type it back."""
    assert client.post(PHONE_SEND, {"channel": "sms"}).status_code == 302
    response = client.post(PHONE_VERIFY, {"phone_code": _sent_code()})
    assert response.status_code == 302 and response["Location"] == DIGITAL


def _start(client):  # type: ignore[no-untyped-def]
    """Verify the phone, then start an enrollment; the response shows the QR code."""
    _phone_checked(client)
    return client.post(DIGITAL_START)


def _phone_checked_by_service(customer, user) -> None:  # type: ignore[no-untyped-def]
    additional_auth_start(customer=customer, purpose=PHONE_CHECK, channel="sms", actor=user)
    assert additional_auth_verify(customer=customer, purpose=PHONE_CHECK, answer=_sent_code(), actor=user).ok


# --- Who may open the pages ------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, url):
    """Every security centre page asks an anonymous visitor to log in first, and comes back after."""
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_an_anonymous_post_changes_nothing(client, alice, tokens):
    """Starting an enrollment without signing in is sent to the login page and creates no token."""
    response = client.post(DIGITAL_START)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not OtpToken.objects.filter(kind=OtpToken.Kind.DIGITAL).exists()


@pytest.mark.parametrize("url", PAGES)
def test_a_customer_opens_every_page(signed_in, url):
    """A signed-in customer gets each page, uncached (they show the state of the customer's media)."""
    response = signed_in.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url", PAGES + [DIGITAL_START, PHONE_SEND, PHONE_VERIFY])
def test_a_user_without_a_customer_is_told_why(client, url):
    """A signed-in user linked to no customer sees a clear refusal (403), for GET and POST alike."""
    client.force_login(User.objects.create_user(username="webonly", password=PASSWORD))
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 403
        assert _shown(NOT_A_CUSTOMER) in _html(response)


@pytest.mark.parametrize("url", PAGES)
def test_staff_are_not_customers_here(client, teller, url):
    """Staff IDs are refused with their own message, even one linked to a customer record."""
    client.force_login(teller)
    response = client.get(url)
    assert response.status_code == 403
    assert _shown(STAFF_NOT_A_CUSTOMER) in _html(response)


def test_staff_with_a_customer_record_cannot_start_an_enrollment(client, alice, tokens):
    """A staff member who is also a customer still uses a customer ID: nothing is created."""
    staff = User.objects.create_user(username="teller2", password=PASSWORD, is_staff=True, customer=alice)
    client.force_login(staff)
    assert client.post(DIGITAL_START).status_code == 403
    assert not OtpToken.objects.filter(kind=OtpToken.Kind.DIGITAL).exists()


def test_the_header_links_to_the_security_centre_only_for_customers(client, signed_in, teller):
    """Signed-in customers see the security centre in the menu; anonymous visitors and staff do not."""
    assert f'href="{CENTRE}"' in _html(signed_in.get(reverse("home")))
    assert f'href="{CENTRE}" aria-current="page"' in _html(signed_in.get(CENTRE))
    signed_in.logout()
    assert f'href="{CENTRE}"' not in _html(client.get(reverse("home")))
    client.force_login(teller)
    assert f'href="{CENTRE}"' not in _html(client.get(reverse("home")))


# --- Languages and the content security policy -----------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_pages_are_korean_by_default(signed_in, url):
    """Without a language choice the pages are served in Korean."""
    html = _html(signed_in.get(url))
    assert '<html lang="ko">' in html and "공지사항" in html


@pytest.mark.parametrize(
    ("url", "heading"),
    [
        (CENTRE, "My security media"),
        (DIGITAL, "Register a digital OTP"),
        (REGISTER, "Register another institution's OTP"),
        (ACCIDENT, "Report a lost OTP"),
    ],
)
def test_pages_are_english_on_request(signed_in, url, heading):
    """A browser asking for English gets the English page."""
    html = _html(signed_in.get(url, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"))
    assert '<html lang="en">' in html and f"<h1>{heading}</h1>" in html


def test_the_language_switch_carries_over_to_the_security_centre(signed_in):
    """Choosing English with the language switch (the cookie) shows the security centre in English."""
    signed_in.post(reverse("set_language"), {"language": "en", "next": CENTRE})
    html = _html(signed_in.get(CENTRE))
    assert '<html lang="en">' in html and "Security tier" in html


@pytest.mark.parametrize("url", PAGES)
def test_pages_have_no_inline_script_or_style(signed_in, registered, url):
    """The strict CSP holds: no inline scripts, styles or event handlers."""
    html = _html(signed_in.get(url))
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert re.search(r"<style\b|\sstyle=|\son[a-z]+=", html) is None


# --- My security media (나의 보안매체) ---------------------------------------------------------------


def test_no_media_means_no_tier_and_no_transfers(signed_in):
    """A customer with no security medium sees tier "none", a zero limit and how to get a medium."""
    html = _html(signed_in.get(CENTRE, HTTP_ACCEPT_LANGUAGE="en"))
    assert 'data-tier="none"' in html and "None (no security medium)" in html
    assert 'id="security-media-empty"' in html
    assert "0 KRW" in html
    assert _shown(ANTI_PHISHING_NOTICE) in html


def test_the_centre_lists_masked_media_and_the_safe_tier(signed_in, alice, teller, registered):
    """An OTP and a security card are listed with masked serials, kind and status; the OTP gives the
    safe tier and its maxima; the full serials appear nowhere on the page."""
    card = security_card_issue(customer=alice, actor=teller).card
    html = _html(signed_in.get(CENTRE, HTTP_ACCEPT_LANGUAGE="en"))
    assert 'data-tier="safe"' in html and "Safe (OTP)" in html
    assert "100,000,000 KRW" in html and "500,000,000 KRW" in html
    assert 'data-medium="otp" data-kind="hardware" data-status="active"' in html
    assert 'data-medium="security_card" data-kind="security_card" data-status="active"' in html
    assert totp.mask_serial("OTP0000000001") in html and "OTP0000000001" not in html
    assert totp.mask_serial(card.serial) in html and card.serial not in html
    assert f'href="{ACCIDENT}"' in html
    assert _shown(ANTI_PHISHING_NOTICE) in html


def test_a_security_card_alone_is_the_general_tier(signed_in, alice, teller):
    """With only a security card the tier is general, with its lower maxima; nothing to report lost."""
    security_card_issue(customer=alice, actor=teller)
    html = _html(signed_in.get(CENTRE, HTTP_ACCEPT_LANGUAGE="en"))
    assert 'data-tier="general"' in html
    assert "10,000,000 KRW" in html and "50,000,000 KRW" in html
    assert f'href="{ACCIDENT}"' not in html


def test_a_minor_who_signed_up_alone_sees_the_minor_cap(client, minnie, teller, tokens):
    """Whatever the tier, a minor who signed up alone is capped at 1,000,000 / 3,000,000 won."""
    otp_register_at_branch(customer=minnie, serial="OTP0000000001", actor=teller)
    client.force_login(User.objects.create_user(username="minnie01", password=PASSWORD, customer=minnie))
    html = _html(client.get(CENTRE, HTTP_ACCEPT_LANGUAGE="en"))
    assert minnie.solo_minor_cap
    assert 'data-tier="safe"' in html
    assert "1,000,000 KRW" in html and "3,000,000 KRW" in html and "100,000,000 KRW" not in html
    assert "minor limit" in html


# --- Digital OTP (디지털 OTP) -----------------------------------------------------------------------


def test_opening_the_digital_otp_page_changes_nothing(signed_in, alice):
    """GET only explains and offers to send a code to the masked registered phone (a POST); no start
    button before the phone check, no token, no code sent, no secret, no QR code."""
    html = _html(signed_in.get(DIGITAL))
    assert f'action="{PHONE_SEND}"' in html and 'method="post"' in html
    assert 'name="channel" value="sms"' in html
    assert ALICE_PHONE_MASKED in html and "86429753" not in html
    assert f'action="{DIGITAL_START}"' not in html and 'id="digital-start-waiting"' in html
    assert 'data-phone-check="none"' in html
    assert "data:image/svg+xml" not in html and "otp-secret" not in html
    assert not OtpRegistration.objects.filter(customer=alice).exists()
    assert not Notification.objects.exists() and not AdditionalAuthChallenge.objects.exists()


def test_the_phone_check_sends_a_code_and_verifies_it(signed_in, alice):
    """Sending texts a code to the registered phone and says where (masked); the page then asks for
    it; the right code verifies and the start button appears."""
    response = signed_in.post(PHONE_SEND, {"channel": "sms"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == DIGITAL
    assert _messages(response) == [str(MSG_PHONE_CODE_SENT_SMS % {"phone": ALICE_PHONE_MASKED})]
    sms = Notification.objects.get()
    assert sms.channel == "sms" and sms.to == alice.phone
    html = _html(signed_in.get(DIGITAL))
    assert 'data-phone-check="sent"' in html and f'action="{PHONE_VERIFY}"' in html and 'name="phone_code"' in html
    assert f'action="{DIGITAL_START}"' not in html
    verified = signed_in.post(PHONE_VERIFY, {"phone_code": _sent_code()})
    assert verified.status_code == 302 and _messages(verified) == [str(MSG_PHONE_VERIFIED)]
    html = _html(signed_in.get(DIGITAL))
    assert 'data-phone-check="verified"' in html and f'action="{DIGITAL_START}"' in html
    assert f'action="{PHONE_VERIFY}"' not in html


def test_a_wrong_phone_code_is_shown_by_the_field_with_the_tries_left(signed_in, alice):
    """A wrong code: the message and the tries left next to the code field; a malformed one: the shape
    message, not counted; the 5th wrong try ends the code and says to request a new one."""
    signed_in.post(PHONE_SEND, {"channel": "sms"})
    code = _sent_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = signed_in.post(PHONE_VERIFY, {"phone_code": wrong}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    field = re.search(r'<div class="field field-invalid">.*?</div>', _html(response), re.S)
    assert field and 'name="phone_code"' in field.group(0)
    assert _shown(REFUSAL_MESSAGES[Refusal.WRONG]) in field.group(0)
    assert _shown(ERR_PHONE_TRIES_LEFT % {"left": 4}) in field.group(0) and "4 tries left." in field.group(0)
    malformed = signed_in.post(PHONE_VERIFY, {"phone_code": "12ab"}, HTTP_ACCEPT_LANGUAGE="en")
    assert malformed.status_code == 200 and _shown(ERR_PHONE_CODE_SHAPE) in _html(malformed)
    assert AdditionalAuthChallenge.objects.get().attempts == 1
    for _ in range(3):
        signed_in.post(PHONE_VERIFY, {"phone_code": wrong})
    last = signed_in.post(PHONE_VERIFY, {"phone_code": wrong}, HTTP_ACCEPT_LANGUAGE="en")
    assert last.status_code == 200 and _shown(REFUSAL_MESSAGES[Refusal.TOO_MANY_TRIES]) in _html(last)
    again = signed_in.post(PHONE_VERIFY, {"phone_code": code}, HTTP_ACCEPT_LANGUAGE="en")
    assert _shown(REFUSAL_MESSAGES[Refusal.NO_CHALLENGE]) in _html(again)
    assert f'action="{DIGITAL_START}"' not in _html(again)


def test_an_expired_phone_code_says_to_request_a_new_one(client, alice_user):
    """A code typed after 3 minutes is refused with the expiry message, by the field."""
    with time_machine.travel(dt.datetime(2031, 5, 20, 10, 0, tzinfo=dt.UTC), tick=False) as clock:
        client.force_login(alice_user)  # a session from before the travel would have expired
        signed_in = client
        signed_in.post(PHONE_SEND, {"channel": "sms"})
        clock.shift(dt.timedelta(minutes=3, seconds=1))
        response = signed_in.post(PHONE_VERIFY, {"phone_code": _sent_code()}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert _shown(REFUSAL_MESSAGES[Refusal.EXPIRED]) in _html(response)


def test_starting_without_a_phone_check_is_explained_and_creates_nothing(signed_in, alice):
    """A start POSTed without a verified phone (a stolen password, an old tab) is refused with a clear
    message on the page, not a 500, and creates no token."""
    response = signed_in.post(DIGITAL_START, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    errors = re.search(r'<div id="digital-start-errors".*?</div>', _html(response), re.S)
    assert errors and _shown(ERR_PHONE_CHECK_REQUIRED) in errors.group(0)
    assert not OtpToken.objects.filter(kind=OtpToken.Kind.DIGITAL).exists()


def test_one_phone_check_starts_one_enrollment(signed_in, alice):
    """The verification is spent by the start: a second start asks for a new phone check."""
    assert 'id="otp-qr"' in _html(_start(signed_in))
    html = _html(signed_in.get(DIGITAL))
    assert 'data-phone-check="none"' in html and f'action="{DIGITAL_START}"' not in html
    response = signed_in.post(DIGITAL_START, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and _shown(ERR_PHONE_CHECK_REQUIRED) in _html(response)
    assert OtpToken.objects.filter(kind=OtpToken.Kind.DIGITAL).count() == 1


def test_a_phone_check_verified_more_than_10_minutes_ago_no_longer_starts(client, alice_user):
    """Verified at 10:00: the start button is gone at 10:10:01 and a start then is refused."""
    with time_machine.travel(dt.datetime(2031, 5, 20, 10, 0, tzinfo=dt.UTC), tick=False) as clock:
        client.force_login(alice_user)  # a session from before the travel would have expired
        signed_in = client
        _phone_checked(signed_in)
        for _ in range(2):  # two looks at the page 5 minutes apart keep the 10-minute idle session alive
            clock.shift(dt.timedelta(minutes=5))
            assert f'action="{DIGITAL_START}"' in _html(signed_in.get(DIGITAL))
        clock.shift(dt.timedelta(seconds=1))
        assert f'action="{DIGITAL_START}"' not in _html(signed_in.get(DIGITAL))
        response = signed_in.post(DIGITAL_START, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and _shown(ERR_PHONE_CHECK_REQUIRED) in _html(response)
    assert not OtpToken.objects.filter(kind=OtpToken.Kind.DIGITAL).exists()


def test_ars_is_offered_only_where_the_bank_has_it(settings, signed_in, alice):
    """Without an ARS backend there is no call button and a forged ARS request gets a message; with
    one, the button is there and the call goes to the registered phone."""
    settings.ARS_BACKEND = ""
    assert 'value="ars"' not in _html(signed_in.get(DIGITAL))
    response = signed_in.post(PHONE_SEND, {"channel": "ars"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and _shown(ERR_ARS_UNAVAILABLE) in _html(response)
    settings.ARS_BACKEND = "bankportal.notifications.backends.OutboxArsBackend"
    assert 'name="channel" value="ars"' in _html(signed_in.get(DIGITAL))
    response = signed_in.post(PHONE_SEND, {"channel": "ars"}, HTTP_ACCEPT_LANGUAGE="en")
    assert _messages(response) == [str(MSG_PHONE_CODE_SENT_ARS % {"phone": ALICE_PHONE_MASKED})]
    assert Notification.objects.get().channel == "voice"


@pytest.mark.parametrize("data", [{}, {"channel": "email"}, {"channel": ""}])
def test_a_forged_channel_gets_a_message(signed_in, alice, data):
    """Anything but sms/ars is refused with a message, not a 500; nothing is sent."""
    response = signed_in.post(PHONE_SEND, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and _shown(ERR_CHANNEL) in _html(response)
    assert not Notification.objects.exists()


def test_too_many_codes_are_refused_with_a_message(signed_in, alice):
    """The sixth code within the hour is refused on the page (the SMS brake), not with a 500."""
    for _ in range(5):
        assert signed_in.post(PHONE_SEND, {"channel": "sms"}).status_code == 302
    response = signed_in.post(PHONE_SEND, {"channel": "sms"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and _shown(ERR_TOO_MANY_CODES) in _html(response)
    assert Notification.objects.count() == 5


@pytest.mark.parametrize("url", [PHONE_SEND, PHONE_VERIFY, DIGITAL_START])
def test_the_phone_check_and_start_need_the_csrf_token(alice_user, url):
    """Without the CSRF token the POST is refused (403) and nothing is sent or created."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice_user)
    assert client.post(url, {"channel": "sms", "phone_code": "123456"}).status_code == 403
    assert not Notification.objects.exists() and not OtpToken.objects.filter(kind=OtpToken.Kind.DIGITAL).exists()


@pytest.mark.parametrize("url", [PHONE_SEND, PHONE_VERIFY])
def test_the_phone_check_addresses_refuse_get(signed_in, url):
    """Sending and checking codes are POSTs only."""
    assert signed_in.get(url).status_code == 405


def test_the_start_address_refuses_get(signed_in, alice):
    """Starting an enrollment is a POST; a GET (a link, a prefetch) is refused and creates nothing."""
    assert signed_in.get(DIGITAL_START).status_code == 405
    assert not OtpRegistration.objects.filter(customer=alice).exists()


def test_digital_otp_enrollment_end_to_end(signed_in, alice, registered):
    """Start shows the QR code and the setup key once (uncached, never in a URL or the audit trail);
    a wrong number is refused next to the field; the app's current number confirms; the centre then
    shows the digital OTP active, the previous OTP gone, and the safe tier."""
    response = _start(signed_in)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = _html(response)
    assert re.search(r'<img src="data:image/svg\+xml[^"]+" alt="[^"]+" id="otp-qr">', html)
    shown = re.search(r'<code id="otp-secret" data-otp-secret>(.*?)</code>', html, re.S)
    assert shown and all(len(g) == 4 for g in re.findall(r"<span>(\w+)</span>", shown.group(1))[:-1])
    secret = _secret_on_page(html)
    pending = OtpRegistration.objects.get(customer=alice, status=OtpRegistration.Status.PENDING)
    assert otp_token_seed(pending.token) == secret
    assert f'action="{DIGITAL}"' in html

    wrong = signed_in.post(DIGITAL, {"code": _wrong_code(secret, 30)}, HTTP_ACCEPT_LANGUAGE="en")
    assert wrong.status_code == 200
    field = re.search(r'<div class="field field-invalid">.*?</div>', _html(wrong), re.S)
    assert field and _shown(OTP_RESULT_MESSAGES[OtpResult.WRONG]) in field.group(0) and 'name="code"' in field.group(0)
    assert secret not in _html(wrong)  # the key is shown once, not again on a retry

    done = signed_in.post(DIGITAL, {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and done["Location"] == CENTRE
    assert _messages(done) == [str(MSG_DIGITAL_REGISTERED)]
    centre = _html(signed_in.get(CENTRE))
    assert 'data-tier="safe"' in centre
    assert 'data-medium="otp" data-kind="digital" data-status="active"' in centre
    assert 'data-kind="hardware"' not in centre  # retired by the replacement
    events = json.dumps(list(AuditEvent.objects.values("action", "details")), ensure_ascii=False)
    assert secret not in events and "otp.register" in events


def test_a_malformed_code_is_explained_and_not_counted(signed_in, alice):
    """Letters or a short number get the shape message; the token's error counter does not move."""
    _start(signed_in)
    for bad in ("12ab56", "123", ""):
        response = signed_in.post(DIGITAL, {"code": bad}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        assert _shown(ERR_CODE_SHAPE) in _html(response)
    assert OtpToken.objects.get(kind=OtpToken.Kind.DIGITAL).error_count == 0


def test_a_code_typed_with_a_space_is_accepted(signed_in, alice):
    """ "123 456" is read as 123456 (people copy the app's grouping)."""
    secret = _secret_on_page(_html(_start(signed_in)))
    code = pyotp.TOTP(secret).now()
    response = signed_in.post(DIGITAL, {"code": f"{code[:3]} {code[3:]}"})
    assert response.status_code == 302


def test_confirming_with_nothing_pending_says_start_again(signed_in, alice):
    """A confirm without a started enrollment (an old tab) tells the customer to start again."""
    response = signed_in.post(DIGITAL, {"code": "123456"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert _shown(ERR_NO_PENDING_ENROLLMENT) in _html(response)


def test_a_waiting_enrollment_offers_the_code_field_and_a_restart(signed_in, alice, alice_user):
    """Coming back to the page with an enrollment waiting shows the code field, but not the key
    again; "start again" needs a new phone check first."""
    _phone_checked_by_service(alice, alice_user)
    digital_otp_enroll_start(customer=alice, actor=alice_user)
    html = _html(signed_in.get(DIGITAL))
    assert 'id="digital-otp-confirm"' in html and "otp-secret" not in html
    assert f'action="{DIGITAL_START}"' not in html and f'action="{PHONE_SEND}"' in html
    _phone_checked(signed_in)
    html = _html(signed_in.get(DIGITAL, HTTP_ACCEPT_LANGUAGE="en"))
    assert f'action="{DIGITAL_START}"' in html and "Start again with a new QR code" in html


def test_a_lost_otp_is_replaced_by_a_digital_otp_online(signed_in, alice, alice_user, registered):
    """With the current OTP reported lost, the phone check and the digital OTP still work (the usual
    replacement)."""
    otp_accident_report(customer=alice, actor=alice_user, channel="online")
    secret = _secret_on_page(_html(_start(signed_in)))
    done = signed_in.post(DIGITAL, {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and done["Location"] == CENTRE
    assert 'data-tier="safe"' in _html(signed_in.get(CENTRE))


def test_restarting_gives_a_new_key_and_voids_the_first(signed_in, alice):
    """A second start shows a different key; a code from the first no longer confirms."""
    first = _secret_on_page(_html(_start(signed_in)))
    second = _secret_on_page(_html(_start(signed_in)))
    assert first != second
    response = signed_in.post(DIGITAL, {"code": pyotp.TOTP(first).now()})
    assert response.status_code == 200
    assert not OtpRegistration.objects.filter(customer=alice, status=OtpRegistration.Status.ACTIVE).exists()


# --- Another institution's OTP (OTP 이용등록) -------------------------------------------------------


def test_registration_needs_a_certificate_login(signed_in, alice, tokens):
    """With a web-member login the page says a certificate login is needed; a POST is refused with
    that message (and audited), and nothing is registered."""
    with translation.override("en"):
        message = _shown(OTP_RESULT_MESSAGES[OtpResult.CERTIFICATE_REQUIRED])
    html = _html(signed_in.get(REGISTER, HTTP_ACCEPT_LANGUAGE="en"))
    assert message in html and 'id="otp-register"' not in html
    response = signed_in.post(
        REGISTER, {"serial": "OTP0000000002", "code": _current_code("OTP0000000002")}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200 and message in _html(response)
    assert not OtpRegistration.objects.filter(customer=alice).exists()
    refused = AuditEvent.objects.get(action="otp.register_online_refused")
    assert refused.details["result"] == "certificate_required"


def test_registration_with_a_certificate_session(signed_in, alice, tokens):
    """With a certificate-level session, the serial (typed with hyphens) and the token's current number
    register the OTP and the centre shows it."""
    _certificate_session(signed_in)
    assert 'id="otp-register"' in _html(signed_in.get(REGISTER))
    response = signed_in.post(REGISTER, {"serial": "otp-0000-000002", "code": _current_code("OTP0000000002")})
    assert response.status_code == 302 and response["Location"] == CENTRE
    assert _messages(response) == [str(MSG_OTP_REGISTERED)]
    assert OtpRegistration.objects.get(customer=alice, status="active").token.serial == "OTP0000000002"
    assert 'data-tier="safe"' in _html(signed_in.get(CENTRE))


def test_registration_refusals_are_shown_next_to_their_field(signed_in, alice, tokens):
    """A malformed serial, an unknown serial and a wrong number each get their message by the field."""
    _certificate_session(signed_in)
    cases = [
        ({"serial": "AB!", "code": "123456"}, ERR_SERIAL_SHAPE),
        ({"serial": "OTP9999999999", "code": "123456"}, OTP_RESULT_MESSAGES[OtpResult.UNKNOWN_SERIAL]),
        (
            {"serial": "OTP0000000002", "code": _wrong_code(SEEDS["OTP0000000002"], 60)},
            OTP_RESULT_MESSAGES[OtpResult.WRONG],
        ),
        ({"serial": "OTP0000000002", "code": "12x456"}, ERR_CODE_SHAPE),
    ]
    for data, message in cases:
        response = signed_in.post(REGISTER, data, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        fields = re.findall(r'<div class="field field-invalid">.*?</div>', _html(response), re.S)
        assert len(fields) == 1 and _shown(message) in fields[0], data
    assert OtpToken.objects.get(serial="OTP0000000002").error_count == 1  # only the real wrong number counted
    assert not OtpRegistration.objects.filter(customer=alice).exists()


def test_registration_is_refused_while_the_current_otp_is_reported_lost(signed_in, alice, alice_user, registered):
    """Even with a certificate session, a customer whose OTP is reported lost is sent to a branch."""
    otp_accident_report(customer=alice, actor=alice_user, channel="online")
    _certificate_session(signed_in)
    message = _shown(OTP_RESULT_MESSAGES[OtpResult.ACCIDENT_REPORTED])
    assert message in _html(signed_in.get(REGISTER, HTTP_ACCEPT_LANGUAGE="en"))
    response = signed_in.post(
        REGISTER, {"serial": "OTP0000000002", "code": _current_code("OTP0000000002")}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200 and message in _html(response)
    assert not OtpRegistration.objects.filter(customer=alice, status="active").exists()


# --- Accident report (사고신고) ---------------------------------------------------------------------


def test_the_accident_report_needs_the_confirmation_box(signed_in, alice, registered):
    """Without ticking the confirmation nothing is blocked and the customer is told why."""
    response = signed_in.post(ACCIDENT, {}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and _shown(ERR_CONFIRM_REQUIRED) in _html(response)
    assert OtpToken.objects.get(serial="OTP0000000001").status == OtpToken.Status.ACTIVE


def test_an_accident_report_blocks_the_otp_and_the_tier_falls_back(signed_in, alice, teller, registered):
    """The page names the OTP (masked); confirming blocks it at once, audited as an online report;
    the centre then shows it reported lost and the tier back on the security card."""
    security_card_issue(customer=alice, actor=teller)
    html = _html(signed_in.get(ACCIDENT))
    assert totp.mask_serial("OTP0000000001") in html and 'id="accident-report"' in html
    response = signed_in.post(ACCIDENT, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == CENTRE
    assert _messages(response) == [str(MSG_ACCIDENT_REPORTED)]
    assert OtpToken.objects.get(serial="OTP0000000001").status == OtpToken.Status.ACCIDENT_REPORTED
    event = AuditEvent.objects.get(action="otp.accident_report")
    assert event.details["channel"] == "online" and event.actor_id == alice.users.get().pk
    centre = _html(signed_in.get(CENTRE))
    assert 'data-medium="otp" data-kind="hardware" data-status="accident_reported"' in centre
    assert 'data-tier="general"' in centre
    assert f'href="{ACCIDENT}"' not in centre


def test_an_accident_report_without_an_otp_is_explained(signed_in, alice):
    """With no OTP in use the page says so, and a POST anyway gets the service's refusal, not a 500."""
    html = _html(signed_in.get(ACCIDENT, HTTP_ACCEPT_LANGUAGE="en"))
    assert 'id="accident-nothing"' in html and 'id="accident-report"' not in html
    response = signed_in.post(ACCIDENT, {"confirm": "on"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert _shown(OTP_RESULT_MESSAGES[OtpResult.NO_DEVICE]) in _html(response)
