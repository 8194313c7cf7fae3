"""Customers (고객): registration, contact details, the minor cap, RRN re-encryption."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts import ages
from accounts.identity import customer_rrn, rrn_blind_index, rrn_is_current, set_rrn
from accounts.idnumbers import InvalidNumber, is_minor, parse_brn, parse_rrn
from accounts.models import Customer, StaffRequest
from accounts.phones import InvalidPhone, normalise_mobile
from accounts.services._approval import claim_approved_request, target_id
from accounts.services._common import Actor, require_not_own_record, require_perm
from bankportal import crypto
from bankportal.audit.services import audit_record
from bankportal.notifications.services import send_email_on_commit, send_sms_on_commit
from bankportal.timeutil import kst_today

ERR_NAME_REQUIRED = _("Enter the customer's name.")
ERR_PHONE_INVALID = _("Enter a mobile number such as 010-1234-5678.")
ERR_RRN_REQUIRED = _("Enter the resident registration number.")
ERR_RRN_FORMAT = _("Enter the resident registration number as 13 digits (YYMMDD-GNNNNNN).")
ERR_RRN_BIRTH_DATE = _("The first six digits of the resident registration number are not a real date of birth.")
ERR_RRN_FUTURE = _("The date of birth in the resident registration number is in the future.")
ERR_RRN_NOT_ALLOWED = _("A corporation is identified by its business registration number, not a resident number.")
ERR_BRN_REQUIRED = _("Enter the business registration number.")
ERR_BRN_FORMAT = _("Enter the business registration number as 10 digits (NNN-NN-NNNNN).")
ERR_BRN_CHECK_DIGIT = _("The business registration number is not valid (check digit mismatch).")
ERR_BRN_NOT_ALLOWED = _("An individual customer has no business registration number.")
ERR_DUPLICATE_RRN = _("A customer with this resident registration number already exists.")
ERR_DUPLICATE_BRN = _("A customer with this business registration number already exists.")
ERR_MINOR_NEEDS_REPRESENTATIVE = _("A minor under 18 can only be registered by a legal representative.")
ERR_REPRESENTATIVE_INVALID = _("The legal representative must be an adult individual customer.")
ERR_REPRESENTATIVE_RELATION = _("Choose how the legal representative is related to the minor.")
ERR_REPRESENTATIVE_NOT_MINOR = _("Only a minor is registered with a legal representative.")
ERR_MINOR_CAP_NOT_SET = _("This customer has no minor sign-up cap.")
ERR_MINOR_CAP_STILL_MINOR = _("The cap can only be lifted from the customer's 19th birthday.")
ERR_CONTACT_CHANGED_SINCE = _(
    "The customer's mobile number or email changed after this request was made; record a new request."
)

CONTACT_CHANGED_SMS = _(
    "[%(bank)s] The mobile number or email for your banking codes was changed at a branch. "
    "If you did not ask for this, call %(call_centre)s now."
)
CONTACT_CHANGED_EMAIL_SUBJECT = _("[%(bank)s] Your contact details were changed")
CONTACT_CHANGED_EMAIL_BODY = _(
    "The mobile number or email that receives your one-time codes was changed at a branch.\n"
    "If you did not ask for this change, call %(call_centre)s straight away."
)

_RRN_ERRORS = {"format": ERR_RRN_FORMAT, "birth_date": ERR_RRN_BIRTH_DATE, "future": ERR_RRN_FUTURE}
_BRN_ERRORS = {"format": ERR_BRN_FORMAT, "check_digit": ERR_BRN_CHECK_DIGIT}


def normalise_phone(value: str) -> str:
    """The digits of a Korean mobile number, or ``ValidationError`` with a clear message."""
    try:
        return normalise_mobile(value)
    except InvalidPhone:
        raise ValidationError(ERR_PHONE_INVALID, code="phone_invalid") from None


@transaction.atomic
def customer_create(
    *,
    kind: str,
    name: str,
    phone: str,
    email: str = "",
    rrn: str | None = None,
    brn: str | None = None,
    legal_representative: Customer | None = None,
    representative_relation: str = "",
    actor: Actor,
) -> Customer:
    """Register a real-name customer.

    Raises ``ValidationError`` (a dict of field errors) for a malformed or duplicate number,
    a missing representative for a minor under 18, or an invalid representative;
    ``PermissionDenied`` without ``accounts.add_customer``.
    """
    require_perm(actor, "accounts.add_customer")
    today = kst_today()
    errors: dict[str, Any] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ValidationError(ERR_NAME_REQUIRED, code="name_required")
    try:
        phone = normalise_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc

    rrn_digits: str | None = None
    birth_date = None
    if kind in (Customer.Kind.INDIVIDUAL, Customer.Kind.INDIVIDUAL_BUSINESS):
        if not (rrn or "").strip():
            errors["rrn"] = ValidationError(ERR_RRN_REQUIRED, code="rrn_required")
        else:
            try:
                parsed = parse_rrn(rrn or "", today=today)
                rrn_digits, birth_date = parsed.digits, parsed.birth_date
            except InvalidNumber as exc:
                errors["rrn"] = ValidationError(_RRN_ERRORS[exc.code], code=f"rrn_{exc.code}")
    elif (rrn or "").strip():
        errors["rrn"] = ValidationError(ERR_RRN_NOT_ALLOWED, code="rrn_not_allowed")

    brn_digits: str | None = None
    if kind in (Customer.Kind.INDIVIDUAL_BUSINESS, Customer.Kind.CORPORATION):
        if not (brn or "").strip():
            errors["brn"] = ValidationError(ERR_BRN_REQUIRED, code="brn_required")
        else:
            try:
                brn_digits = parse_brn(brn or "")
            except InvalidNumber as exc:
                errors["brn"] = ValidationError(_BRN_ERRORS[exc.code], code=f"brn_{exc.code}")
    elif (brn or "").strip():
        errors["brn"] = ValidationError(ERR_BRN_NOT_ALLOWED, code="brn_not_allowed")

    solo_minor_cap = False
    if birth_date is not None and kind == Customer.Kind.INDIVIDUAL and is_minor(birth_date, today):
        if legal_representative is None:
            if ages.needs_legal_representative(birth_date, today):
                errors["legal_representative"] = ValidationError(
                    ERR_MINOR_NEEDS_REPRESENTATIVE, code="minor_needs_representative"
                )
            solo_minor_cap = ages.solo_signup_carries_minor_cap(birth_date, today)
        else:
            if legal_representative.kind != Customer.Kind.INDIVIDUAL or legal_representative.is_minor(today):
                errors["legal_representative"] = ValidationError(
                    ERR_REPRESENTATIVE_INVALID, code="representative_invalid"
                )
            if representative_relation not in Customer.RepresentativeRelation.values:
                errors["representative_relation"] = ValidationError(
                    ERR_REPRESENTATIVE_RELATION, code="representative_relation"
                )
    elif legal_representative is not None:
        errors["legal_representative"] = ValidationError(ERR_REPRESENTATIVE_NOT_MINOR, code="representative_not_minor")

    if rrn_digits and "rrn" not in errors and Customer.objects.filter(rrn_index=rrn_blind_index(rrn_digits)).exists():
        errors["rrn"] = ValidationError(ERR_DUPLICATE_RRN, code="duplicate_rrn")
    if brn_digits and "brn" not in errors and Customer.objects.filter(brn=brn_digits).exists():
        errors["brn"] = ValidationError(ERR_DUPLICATE_BRN, code="duplicate_brn")
    if errors:
        raise ValidationError(errors)

    customer = Customer(
        kind=kind,
        name=name,
        phone=phone,
        email=(email or "").strip(),
        brn=brn_digits,
        birth_date=birth_date,
        legal_representative=legal_representative,
        representative_relation=representative_relation if legal_representative else "",
        solo_minor_cap=solo_minor_cap,
    )
    if rrn_digits:
        set_rrn(customer, rrn_digits)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # Another teller registered the same number between our check and our insert.
        field, message, code = (
            ("rrn", ERR_DUPLICATE_RRN, "duplicate_rrn") if rrn_digits else ("brn", ERR_DUPLICATE_BRN, "duplicate_brn")
        )
        raise ValidationError({field: ValidationError(message, code=code)}) from None
    audit_record(
        action="customer.create",
        actor=actor,
        customer_id=customer.pk,
        obj=customer,
        details={
            "kind": kind,
            "solo_minor_cap": solo_minor_cap,
            "has_representative": legal_representative is not None,
        },
    )
    return customer


@transaction.atomic
def customer_update_name(*, customer: Customer, name: str, actor: Actor) -> Customer:
    """Correct the customer's name (no approval needed: a name routes no one-time code).

    Raises ``ValidationError`` for an empty name; ``PermissionDenied`` without
    ``accounts.change_customer`` or on the actor's own record.
    """
    require_perm(actor, "accounts.change_customer")
    require_not_own_record(actor, customer.pk)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ValidationError(ERR_NAME_REQUIRED, code="name_required")})
    # Lock so two tellers editing at once cannot both compute "changed" from the same old row.
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if locked.name != name:
        locked.name = name
        locked.save(update_fields=["name", "updated_at"])
        audit_record(
            action="customer.update_contact",
            actor=actor,
            customer_id=locked.pk,
            obj=locked,
            details={"fields": ["name"]},
        )
    return locked


def _contact_notices(*, old_phone: str, old_email: str, new_phone: str, new_email: str, changed: list[str]) -> None:
    """Tell the old contact points (and the new ones) after commit: a hijacker cannot silence them."""
    with translation.override(settings.LANGUAGE_CODE):
        bank = settings.BANK_NAME_KO if settings.LANGUAGE_CODE == "ko" else settings.BANK_NAME_EN
        context = {"bank": bank, "call_centre": settings.BANK_CALL_CENTRE}
        sms = str(CONTACT_CHANGED_SMS % context)
        subject = str(CONTACT_CHANGED_EMAIL_SUBJECT % context)
        body = str(CONTACT_CHANGED_EMAIL_BODY % context)
    phones = [old_phone] + ([new_phone] if "phone" in changed and new_phone != old_phone else [])
    for phone in phones:
        send_sms_on_commit(to=phone, body=sms, purpose="customer.contact_changed")
    emails = [old_email] + ([new_email] if "email" in changed else [])
    for email in dict.fromkeys(e for e in emails if e):
        send_email_on_commit(to=email, subject=subject, body=body, purpose="customer.contact_changed")


@transaction.atomic
def customer_update_contact(*, request: StaffRequest, actor: Actor) -> Customer:
    """Change the mobile number and email that receive one-time codes, as an approved request orders.

    Only reachable through ``staff_request_approve``. Notifies the old phone and email (and the
    new ones) after commit. Raises ``PermissionDenied`` without ``accounts.change_customer`` or
    outside an approved request (see ``claim_approved_request``); ``ValidationError`` when the
    contact details changed after the request was made.
    """
    require_perm(actor, "accounts.change_customer")
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.CONTACT_CHANGE, actor=actor)
    # Lock the customer: the comparison with the details the request was made against must hold
    # until we write.
    locked = Customer.objects.select_for_update().get(pk=target_id(request.customer_id))
    payload = request.payload
    old_phone, old_email = locked.phone, locked.email
    if (old_phone, old_email) != (payload["old_phone"], payload["old_email"]):
        raise ValidationError(ERR_CONTACT_CHANGED_SINCE, code="contact_changed_since_request")
    new_phone, new_email = normalise_phone(payload["phone"]), payload["email"]
    changed = [
        field for field, old, new in (("phone", old_phone, new_phone), ("email", old_email, new_email)) if old != new
    ]
    locked.phone, locked.email = new_phone, new_email
    locked.save(update_fields=[*changed, "updated_at"])
    audit_record(
        action="customer.update_contact",
        actor=actor,
        customer_id=locked.pk,
        obj=locked,
        details={"fields": changed, "staff_request": request.pk},
    )
    _contact_notices(
        old_phone=old_phone, old_email=old_email, new_phone=new_phone, new_email=new_email, changed=changed
    )
    return locked


def require_minor_cap_liftable(customer: Customer, *, today: dt.date) -> None:
    """Raise ``ValidationError`` unless the customer carries the cap and is 19 or older on ``today``."""
    if not customer.solo_minor_cap:
        raise ValidationError(ERR_MINOR_CAP_NOT_SET, code="minor_cap_not_set")
    if customer.birth_date is None or not ages.minor_cap_liftable(customer.birth_date, today):
        raise ValidationError(ERR_MINOR_CAP_STILL_MINOR, code="minor_cap_still_minor")


@transaction.atomic
def customer_lift_minor_cap(*, request: StaffRequest, actor: Actor) -> Customer:
    """Lift the cap on a former minor who signed up alone, as an approved request orders.

    Only reachable through ``staff_request_approve``. Raises ``ValidationError`` when there is no
    cap or the customer is not yet 19; ``PermissionDenied`` without ``accounts.lift_minor_cap`` or
    outside an approved request.
    """
    require_perm(actor, "accounts.lift_minor_cap")
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.MINOR_CAP_LIFT, actor=actor)
    # Lock so the check and the write see the same row.
    locked = Customer.objects.select_for_update().get(pk=target_id(request.customer_id))
    require_minor_cap_liftable(locked, today=kst_today())
    locked.solo_minor_cap = False
    locked.save(update_fields=["solo_minor_cap", "updated_at"])
    audit_record(
        action="customer.lift_minor_cap",
        actor=actor,
        customer_id=locked.pk,
        obj=locked,
        details={"staff_request": request.pk},
    )
    return locked


def customer_rrn_reencrypt(*, actor: Actor, batch_size: int = 500) -> int:
    """Re-encrypt every RRN not under the newest key or not yet bound to its row; returns the count.

    Walks the table in primary-key order; each batch is its own transaction, so a long run can be
    interrupted and resumed. Raises ``identity.RrnBindingError`` at a row whose ciphertext belongs
    to another row (tampering to investigate, never silently rewritten).
    """
    require_perm(actor, "accounts.reencrypt_customer_rrn")
    ring = crypto.current_ring()
    total = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            # Lock the batch so two runs at once never rewrite the same rows from stale copies.
            batch = list(
                Customer.objects.select_for_update()
                .exclude(rrn_ciphertext="")
                .filter(pk__gt=last_pk)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1].pk
            stale = [customer for customer in batch if not rrn_is_current(customer, ring)]
            for customer in stale:
                set_rrn(customer, customer_rrn(customer))
            Customer.objects.bulk_update(stale, ["rrn_ciphertext", "rrn_key_id", "rrn_index", "rrn_masked"])
            total += len(stale)
    if total:
        audit_record(action="customer.rrn_reencrypt", actor=actor, details={"count": total, "key_id": ring.current_id})
    return total
