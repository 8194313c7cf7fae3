"""Notification backends: the gateways. Pick one with SMS_BACKEND / EMAIL_BACKEND (see settings).

Only ``services.notification_deliver`` calls them, from a Celery task after commit: never the web
request. Every call carries the notification's idempotency key (``Sms.key``, the ``Idempotency-Key``
header for the HTTP gateway, the Message-ID for email) so a gateway that dedupes on it turns a retry
of a message it already accepted into a no-op.
"""

from __future__ import annotations

import json
import logging
import smtplib
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

from bankportal.notifications.models import OutboxMessage

logger = logging.getLogger(__name__)

PURPOSE_HEADER = "X-Bankportal-Purpose"
KEY_HEADER = "X-Bankportal-Notification"


class DeliveryError(Exception):
    """The gateway refused or could not be reached; the caller decides whether to retry."""


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    purpose: str = ""
    key: str = ""  # idempotency key: the same for every attempt at one notification


class BaseSmsBackend:
    def send(self, message: Sms) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    label = "SMS"

    def send(self, message: Sms) -> None:
        sys.stdout.write(f"[{self.label} to {message.to}] {message.body}\n")
        sys.stdout.flush()


class OutboxSmsBackend(BaseSmsBackend):
    channel = OutboxMessage.Channel.SMS

    def send(self, message: Sms) -> None:
        OutboxMessage.objects.create(channel=self.channel, to=message.to, body=message.body, purpose=message.purpose)


class HttpGatewaySmsBackend(BaseSmsBackend):
    """POSTs JSON ``{"to", "from", "text"}`` with a bearer token to ``SMS_GATEWAY_URL``, and the
    notification key in an ``Idempotency-Key`` header.

    The shape most Korean SMS aggregators accept; adapt ``payload`` for a different contract.
    """

    url_setting = "SMS_GATEWAY_URL"
    token_setting = "SMS_GATEWAY_TOKEN"  # noqa: S105 - the setting's name, not a secret
    gateway_name = "SMS gateway"

    def payload(self, message: Sms) -> dict[str, str]:
        return {"to": message.to, "from": settings.SMS_SENDER, "text": message.body}

    def send(self, message: Sms) -> None:
        url = getattr(settings, self.url_setting)
        if not url:
            raise DeliveryError(f"{self.url_setting} is not configured")
        token = getattr(settings, self.token_setting)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        if message.key:
            headers["Idempotency-Key"] = message.key
        request = urllib.request.Request(  # noqa: S310 - scheme restricted to http(s) by settings
            url, data=json.dumps(self.payload(message)).encode(), method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.SMS_GATEWAY_TIMEOUT) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{self.gateway_name} answered {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"{self.gateway_name} unreachable: {exc}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"{self.gateway_name} answered {status}")


class ConsoleArsBackend(ConsoleSmsBackend):
    label = "ARS call"


class OutboxArsBackend(OutboxSmsBackend):
    channel = OutboxMessage.Channel.VOICE


class HttpGatewayArsBackend(HttpGatewaySmsBackend):
    """The same JSON contract as the SMS gateway, posted to the ARS vendor's ``ARS_GATEWAY_URL``;
    the vendor's text-to-speech reads ``text`` out on the call."""

    url_setting = "ARS_GATEWAY_URL"
    token_setting = "ARS_GATEWAY_TOKEN"  # noqa: S105 - the setting's name, not a secret
    gateway_name = "ARS gateway"


class OutboxEmailBackend(BaseEmailBackend):
    """Django email backend that stores messages in the outbox table."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            for recipient in message.recipients():
                OutboxMessage.objects.create(
                    channel=OutboxMessage.Channel.EMAIL,
                    to=recipient,
                    subject=str(message.subject)[:200],
                    body=str(message.body),
                    purpose=message.extra_headers.get(PURPOSE_HEADER, ""),
                )
            sent += 1
        return sent


def get_sms_backend() -> BaseSmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    return backend_class()


def deliver_sms(message: Sms) -> None:
    """Hand one SMS to the configured gateway, now. Only ``services.notification_deliver`` calls this
    (from a task): features queue with ``notification_enqueue``. Raises ``DeliveryError``."""
    get_sms_backend().send(message)


def ars_available() -> bool:
    """Whether this deployment can place ARS calls (``ARS_BACKEND`` is not ``none``)."""
    return bool(settings.ARS_BACKEND)


def deliver_voice(message: Sms) -> None:
    """Place one ARS call reading ``message.body`` out, now (for the delivery service only).
    Raises ``DeliveryError``, also when no ARS backend is configured."""
    if not ars_available():
        raise DeliveryError("no ARS backend is configured (ARS_BACKEND=none)")
    import_string(settings.ARS_BACKEND)().send(message)


def deliver_email(*, to: str, subject: str, body: str, purpose: str = "", key: str = "") -> None:
    """Hand one email to the configured backend, now (like ``deliver_sms``, for the delivery service
    only). Raises ``DeliveryError`` when SMTP refuses or cannot be reached."""
    headers = {}
    if purpose:
        headers[PURPOSE_HEADER] = purpose
    if key:
        headers[KEY_HEADER] = key
        # A stable Message-ID: a resend of the same notification is recognisably the same message.
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "bankportal.invalid"
        headers["Message-ID"] = f"<{key}@{domain}>"
    message = EmailMessage(subject=subject, body=body, to=[to], headers=headers)
    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"email not accepted: {exc}") from None
