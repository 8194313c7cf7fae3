"""Notification backends. Pick one with SMS_BACKEND / EMAIL_BACKEND (see settings)."""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from bankportal.notifications.models import OutboxMessage

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The gateway refused or could not be reached; the caller decides whether to retry."""


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    purpose: str = ""


class BaseSmsBackend:
    def send(self, message: Sms) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    def send(self, message: Sms) -> None:
        sys.stdout.write(f"[SMS to {message.to}] {message.body}\n")
        sys.stdout.flush()


class OutboxSmsBackend(BaseSmsBackend):
    def send(self, message: Sms) -> None:
        OutboxMessage.objects.create(
            channel=OutboxMessage.Channel.SMS, to=message.to, body=message.body, purpose=message.purpose
        )


class HttpGatewaySmsBackend(BaseSmsBackend):
    """POSTs JSON ``{"to", "from", "text"}`` with a bearer token to ``SMS_GATEWAY_URL``.

    The shape most Korean SMS aggregators accept; adapt ``payload`` for a different contract.
    """

    def payload(self, message: Sms) -> dict[str, str]:
        return {"to": message.to, "from": settings.SMS_SENDER, "text": message.body}

    def send(self, message: Sms) -> None:
        url = settings.SMS_GATEWAY_URL
        if not url:
            raise DeliveryError("SMS_GATEWAY_URL is not configured")
        request = urllib.request.Request(  # noqa: S310 - scheme restricted to http(s) by settings
            url,
            data=json.dumps(self.payload(message)).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.SMS_GATEWAY_TIMEOUT) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"SMS gateway answered {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"SMS gateway answered {status}")


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
                    purpose=message.extra_headers.get("X-Bankportal-Purpose", ""),
                )
            sent += 1
        return sent
