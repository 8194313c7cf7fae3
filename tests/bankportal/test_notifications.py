"""The backends are the gateways: outbox (development inbox), console and the HTTP SMS gateway."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from bankportal.notifications.backends import (
    ConsoleSmsBackend,
    DeliveryError,
    HttpGatewayArsBackend,
    HttpGatewaySmsBackend,
    OutboxSmsBackend,
    Sms,
    ars_available,
    deliver_email,
    deliver_voice,
)
from bankportal.notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_outbox_sms_backend_stores_the_message_in_the_development_inbox():
    """The outbox SMS backend 'delivers' by writing one inbox row, which demos and tests read codes from."""
    OutboxSmsBackend().send(Sms(to="01012345678", body="인증번호 123456", purpose="otp", key="k1"))
    message = OutboxMessage.objects.get()
    assert (message.channel, message.to, message.body, message.purpose) == (
        "sms",
        "01012345678",
        "인증번호 123456",
        "otp",
    )


def test_outbox_email_backend_stores_subject_and_purpose(settings):
    """Email through the outbox backend keeps subject and purpose in the inbox row."""
    settings.EMAIL_BACKEND = "bankportal.notifications.backends.OutboxEmailBackend"
    deliver_email(to="a@example.com", subject="Notice", body="Hello", purpose="renewal", key="k2")
    message = OutboxMessage.objects.get()
    assert (message.channel, message.to, message.subject, message.purpose) == (
        "email",
        "a@example.com",
        "Notice",
        "renewal",
    )


def test_email_carries_a_message_id_derived_from_the_notification_key(settings, mailoutbox):
    """Every attempt at one notification has the same Message-ID, so a resend is recognisable."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "no-reply@dasombank.example"
    deliver_email(to="a@example.com", subject="Notice", body="Hello", key="1f0e")
    assert mailoutbox[0].extra_headers["Message-ID"] == "<1f0e@dasombank.example>"


def test_smtp_refusal_becomes_a_delivery_error(settings):
    """An unreachable SMTP server is a DeliveryError the delivery service records and retries."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    settings.EMAIL_USE_TLS = False
    with pytest.raises(DeliveryError, match="email not accepted"):
        deliver_email(to="a@example.com", subject="Notice", body="Hello")


def test_console_sms_backend_prints_the_message(capsys):
    ConsoleSmsBackend().send(Sms(to="01012345678", body="hello"))
    assert "[SMS to 01012345678] hello" in capsys.readouterr().out


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[dict, str, str | None]] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        _Gateway.received.append((body, self.headers["Authorization"], self.headers["Idempotency-Key"]))
        self.send_response(_Gateway.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(settings):
    """A real HTTP server on loopback standing in for the SMS aggregator."""
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.received = []
    _Gateway.status = 200
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/send"
    yield settings.SMS_GATEWAY_URL
    server.shutdown()
    server.server_close()


def test_http_gateway_posts_json_with_token_and_idempotency_key(settings, gateway):
    """The gateway gets the JSON body, the bearer token and the notification key to dedupe on."""
    settings.SMS_GATEWAY_TOKEN = "tok"
    settings.SMS_SENDER = "15990000"
    HttpGatewaySmsBackend().send(Sms(to="01012345678", body="hi", key="8c1d"))
    assert _Gateway.received == [({"to": "01012345678", "from": "15990000", "text": "hi"}, "Bearer tok", "8c1d")]


def test_http_gateway_refusal_raises(gateway):
    _Gateway.status = 503
    with pytest.raises(DeliveryError, match="503"):
        HttpGatewaySmsBackend().send(Sms(to="01012345678", body="hi"))


def test_http_gateway_unreachable_raises(settings):
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"
    with pytest.raises(DeliveryError, match="unreachable"):
        HttpGatewaySmsBackend().send(Sms(to="01012345678", body="hi"))


def test_http_gateway_without_url_raises(settings):
    settings.SMS_GATEWAY_URL = ""
    with pytest.raises(DeliveryError, match="not configured"):
        HttpGatewaySmsBackend().send(Sms(to="01012345678", body="hi"))


def test_ars_gateway_posts_to_its_own_url_with_its_own_token(settings, gateway):
    """The ARS vendor gets the same JSON contract at ARS_GATEWAY_URL, never the SMS token."""
    settings.ARS_GATEWAY_URL, settings.SMS_GATEWAY_URL = gateway, "http://127.0.0.1:9/never"
    settings.ARS_GATEWAY_TOKEN, settings.SMS_GATEWAY_TOKEN = "ars-tok", "sms-tok"
    HttpGatewayArsBackend().send(Sms(to="01012345678", body="인증번호는 1 2 3 4 5 6 입니다", key="a1"))
    assert _Gateway.received == [
        (
            {"to": "01012345678", "from": settings.SMS_SENDER, "text": "인증번호는 1 2 3 4 5 6 입니다"},
            "Bearer ars-tok",
            "a1",
        )
    ]


def test_a_deployment_without_ars_refuses_voice_delivery(settings):
    """ARS is optional: with ARS_BACKEND=none nothing is called and delivery fails clearly."""
    settings.ARS_BACKEND = ""
    assert ars_available() is False
    with pytest.raises(DeliveryError, match="no ARS backend"):
        deliver_voice(Sms(to="01012345678", body="hi"))


def test_outbox_ars_backend_records_a_voice_call(settings):
    settings.ARS_BACKEND = "bankportal.notifications.backends.OutboxArsBackend"
    assert ars_available() is True
    deliver_voice(Sms(to="01012345678", body="인증번호 안내", purpose="additional_auth"))
    assert OutboxMessage.objects.get().channel == "voice"
