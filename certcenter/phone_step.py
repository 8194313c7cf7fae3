"""The additional-authentication step (추가인증) the anonymous certificate flows share: a code sent to the
registered phone by SMS (or an ARS call where offered), verified on the page and spent later by the
flow's own service call (reissue, other institution's certificate, financial certificate issue).

Each flow describes its step once (``PhoneStep``) and its two views call ``phone_step`` (GET shows,
POST verifies) and ``phone_send`` (POST sends a code). The flow state is ``accounts.ebanking_views``'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.ebanking_views import (
    ERR_CODE_TRIES_LEFT,
    MSG_CODE_SENT_ARS,
    MSG_CODE_SENT_SMS,
    Flow,
    _context,
    _restart,
    _state,
    _update,
)
from accounts.forms import AdditionalAuthCodeForm, AdditionalAuthSendForm
from accounts.models import Agreement
from bankportal.notifications.backends import ars_available
from otp.additionalauth import mask_phone
from otp.services import additional_auth_start, additional_auth_verify
from otp.services.additional_auth import Channel


@dataclass(frozen=True)
class PhoneStep:
    flow: Flow
    number: int  # the step's number in the flow's step list
    template: str
    purpose: str  # otp.services.additional_auth.Purpose
    page: str  # URL name of this step's page
    next_step: str  # the flow step a verified code opens
    next_page: str  # URL name of that step's page
    actor: Callable[[], Any]  # the flow's web actor


def _page(
    request: HttpRequest,
    step: PhoneStep,
    agreement: Agreement,
    state: dict[str, Any],
    code_form: AdditionalAuthCodeForm | None = None,
) -> HttpResponse:
    return render(
        request,
        step.template,
        _context(
            step.flow,
            step.number,
            code_form=code_form or AdditionalAuthCodeForm(),
            code_sent=bool(state.get("code_sent")),
            phone=mask_phone(agreement.customer.phone),
            ars_available=ars_available(),
        ),
    )


def phone_step(request: HttpRequest, step: PhoneStep) -> HttpResponse:
    """Show the step, or verify the code posted; a right one opens the next step (the flow's service
    spends the verification later, in its own transaction)."""
    found = _state(request, step.flow, "phone")
    if found is None:
        return _restart(request, step.flow)
    agreement, state = found
    if request.method != "POST":
        return _page(request, step, agreement, state)
    code_form = AdditionalAuthCodeForm(request.POST)
    if code_form.is_valid():
        result = additional_auth_verify(
            customer=agreement.customer,
            purpose=step.purpose,
            answer=code_form.cleaned_data["phone_code"],
            actor=step.actor(),
        )
        if result.ok:
            _update(request, step.flow, step=step.next_step)
            return redirect(step.next_page)
        message: Any = result.message
        if result.tries_left:
            message = f"{result.message} {ERR_CODE_TRIES_LEFT % {'left': result.tries_left}}"
        code_form.add_error("phone_code", message)
    return _page(request, step, agreement, state, code_form)


def phone_send(request: HttpRequest, step: PhoneStep) -> HttpResponse:
    """Send the code by SMS (or an ARS call where offered); the otp service limits how many an hour."""
    found = _state(request, step.flow, "phone")
    if found is None:
        return _restart(request, step.flow)
    agreement, _state_data = found
    form = AdditionalAuthSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, str(form.errors["channel"][0]))
        return redirect(step.page)
    channel = form.cleaned_data["channel"]
    try:
        additional_auth_start(customer=agreement.customer, purpose=step.purpose, channel=channel, actor=step.actor())
    except ValidationError as refusal:
        messages.error(request, refusal.messages[0])
        return redirect(step.page)
    _update(request, step.flow, code_sent=True)
    sent = MSG_CODE_SENT_ARS if channel == Channel.ARS else MSG_CODE_SENT_SMS
    messages.success(request, sent % {"phone": mask_phone(agreement.customer.phone)})
    return redirect(step.page)
