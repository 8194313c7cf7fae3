"""Sending customer messages. Every later feature sends SMS and email through here."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils.module_loading import import_string

from bankportal.notifications.backends import BaseSmsBackend, Sms


def get_sms_backend() -> BaseSmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    return backend_class()


def send_sms(*, to: str, body: str, purpose: str = "") -> None:
    """Send now. Raises ``DeliveryError`` when the gateway refuses."""
    get_sms_backend().send(Sms(to=to, body=body, purpose=purpose))


def send_email(*, to: str, subject: str, body: str, purpose: str = "") -> None:
    headers = {"X-Bankportal-Purpose": purpose} if purpose else {}
    EmailMessage(subject=subject, body=body, to=[to], headers=headers).send(fail_silently=False)


def send_sms_on_commit(*, to: str, body: str, purpose: str = "") -> None:
    """Send once the surrounding transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: send_sms(to=to, body=body, purpose=purpose))


def send_email_on_commit(*, to: str, subject: str, body: str, purpose: str = "") -> None:
    transaction.on_commit(lambda: send_email(to=to, subject=subject, body=body, purpose=purpose))
