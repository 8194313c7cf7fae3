"""SMS and email go through pluggable backends; the outbox shows staff what was sent."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import transaction

from bankportal.notifications.backends import DeliveryError
from bankportal.notifications.models import OutboxMessage
from bankportal.notifications.services import send_email, send_sms, send_sms_on_commit

pytestmark = pytest.mark.django_db

OUTBOX_SMS = "bankportal.notifications.backends.OutboxSmsBackend"


def test_outbox_sms_is_stored(settings):
    settings.SMS_BACKEND = OUTBOX_SMS
    send_sms(to="01012345678", body="인증번호 123456", purpose="otp")
    message = OutboxMessage.objects.get()
    assert (message.channel, message.to, message.body, message.purpose) == (
        "sms",
        "01012345678",
        "인증번호 123456",
        "otp",
    )


def test_outbox_email_backend(settings):
    settings.EMAIL_BACKEND = "bankportal.notifications.backends.OutboxEmailBackend"
    send_email(to="a@example.com", subject="Notice", body="Hello", purpose="renewal")
    message = OutboxMessage.objects.get()
    assert (message.channel, message.subject, message.purpose) == ("email", "Notice", "renewal")


def test_console_sms_backend(settings, capsys):
    settings.SMS_BACKEND = "bankportal.notifications.backends.ConsoleSmsBackend"
    send_sms(to="01012345678", body="hello")
    assert "[SMS to 01012345678] hello" in capsys.readouterr().out


def test_on_commit_sms_is_not_sent_when_the_change_rolls_back(settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = OUTBOX_SMS
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                send_sms_on_commit(to="01012345678", body="never")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        send_sms_on_commit(to="01012345678", body="sent")
    assert list(OutboxMessage.objects.values_list("body", flat=True)) == ["sent"]


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[dict, str]] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        _Gateway.received.append((json.loads(self.rfile.read(length)), self.headers["Authorization"]))
        self.send_response(_Gateway.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    """A real HTTP server on loopback standing in for the SMS aggregator."""
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.received = []
    _Gateway.status = 200
    yield f"http://127.0.0.1:{server.server_port}/send"
    server.shutdown()
    server.server_close()


def test_http_gateway_posts_json_with_token(settings, gateway):
    settings.SMS_BACKEND = "bankportal.notifications.backends.HttpGatewaySmsBackend"
    settings.SMS_GATEWAY_URL = gateway
    settings.SMS_GATEWAY_TOKEN = "tok"
    settings.SMS_SENDER = "15990000"
    send_sms(to="01012345678", body="hi")
    assert _Gateway.received == [({"to": "01012345678", "from": "15990000", "text": "hi"}, "Bearer tok")]


def test_http_gateway_refusal_raises(settings, gateway):
    settings.SMS_BACKEND = "bankportal.notifications.backends.HttpGatewaySmsBackend"
    settings.SMS_GATEWAY_URL = gateway
    _Gateway.status = 503
    with pytest.raises(DeliveryError, match="503"):
        send_sms(to="01012345678", body="hi")


def test_http_gateway_unreachable_raises(settings):
    settings.SMS_BACKEND = "bankportal.notifications.backends.HttpGatewaySmsBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"
    with pytest.raises(DeliveryError, match="unreachable"):
        send_sms(to="01012345678", body="hi")
