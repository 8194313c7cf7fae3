"""The anonymous e-banking web flows (인터넷뱅킹 등록, 아이디 찾기, 일시정지 해제): identification,
online registration, user-ID lookup and the online release of a suspension.

Each flow starts with ``agreement_identify`` (name, identifying number, withdrawal account and its
password), which counts wrong entries on an active agreement (the 5th suspends it); the flow's own
service then takes the identified agreement. The pages act as the named system actor from
``accounts.services.agreements.agreement_web_actor()``. The agreement's lifecycle (apply, lapse,
suspend, release by staff, terminate) and the wrong-entry count live in
``accounts.services.agreements``; this module builds on it, never the other way round.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts import agreements as rules
from accounts.identity import rrn_blind_index
from accounts.idnumbers import InvalidNumber, normalise_rrn, parse_brn
from accounts.models import Account, Agreement, Customer, User
from accounts.services._common import (
    Actor,
    is_staff_actor,
    require_perm,
)
from accounts.services.agreements import (
    ERR_ONLINE_RELEASE_REASON,
    USE_PERMISSION,
    WEB_FLOW_PERMISSIONS,
    Reason,
    State,
    _lock,
    _refuse,
    _release,
    _require_customer_or_perm,
    agreement_record_wrong_entry,
)
from accounts.services.passwords import PasswordCheck, account_password_check
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.services import audit_record
from bankportal.notifications.services import send_sms_on_commit
from bankportal.timeutil import KST
from certcenter.signing import canonical_text

ONLINE_RELEASE_REASONS = (Reason.DORMANT, Reason.WRONG_ENTRIES)
# The text the customer signs to release a suspension (certcenter's SignatureEvidence purpose; named
# here as a string: accounts imports no certcenter model).
RELEASE_SIGNATURE_PURPOSE = "suspension_release"
RELEASE_TEXT_TITLE = "인터넷뱅킹 일시정지 해제"
RELEASE_TEXT_LIFETIME = dt.timedelta(minutes=10)  # as long as the flow itself
RELEASE_NONCE_BYTES = 24  # 32 base64url characters
RELEASE_NONCE_MIN, RELEASE_NONCE_MAX = 16, 100
# certcenter.services.signature_verify refusals that mean "this certificate cannot be used at all".
CERTIFICATE_UNUSABLE_CODES = frozenset({"expired", "revoked", "unknown"})
# Storing the release's signature evidence (certcenter.services.SIGNATURE_PERMISSION, named as a string).
RELEASE_SIGNATURE_PERMISSION = "certcenter.add_signatureevidence"
USER_ID_SHOWN = 3  # leading characters of a user ID shown by the ID lookup
ERR_DETAILS_MISMATCH = _(
    "The details you entered do not match our records. Check the name, the identification number, the "
    "withdrawal account number and the account password, and try again. Repeated wrong entries lock the "
    "account password and suspend internet banking."
)
ERR_ACCOUNT_PASSWORD_WRONG = _("The account password is wrong.")
ERR_ACCOUNT_PASSWORD_LOCKED = _(
    "The account password is locked after 5 wrong entries. Visit a branch with your ID to reset it."
)
ERR_REGISTRATION_CLOSED = _(
    "The 5-day registration period for this application has ended. Please apply again at a branch."
)
ERR_ALREADY_REGISTERED = _(
    "This agreement is already registered for internet banking. Log in with your user ID, or use Find my ID."
)
ERR_AGREEMENT_TERMINATED = _(
    "This e-banking agreement has ended. To use internet banking again, apply at a branch with your ID."
)
ERR_APPLICATION_LAPSED = _(
    "This application lapsed because it was not registered online within 5 days. A lapsed application "
    "cannot be revived online: please apply again at a branch."
)
ERR_NOT_REGISTERED_YET = _(
    "This agreement is not registered for internet banking yet. Register it online first "
    "(within 5 days of the application, counting the application day)."
)
ERR_LOOKUP_SUSPENDED = _(
    "Internet banking is suspended for this agreement. Release the suspension first "
    "(Security centre → Release an internet banking suspension), then find your ID."
)
ERR_SUSPENDED_BRANCH_ONLY = _(
    "Internet banking is suspended for this agreement, and this suspension can only be released at a "
    "branch. Please visit a branch with your ID."
)
ERR_LOOKUP_NOT_ACTIVE = _("Find my ID is only available while internet banking is in normal use.")
ERR_RELEASE_NOT_SUSPENDED = _("Internet banking is not suspended for this agreement. You can log in as usual.")
ERR_ADDITIONAL_AUTH_REQUIRED = _("Verify the code sent to your phone first.")
ERR_MEDIUM_NOT_VERIFIED = _("Answer the security medium challenge first.")
ERR_USER_ID_FORMAT = _("Choose a user ID of 6 to 20 lowercase letters and digits, starting with a letter.")
ERR_USER_ID_TAKEN = _("This user ID is already taken. Choose another.")
ERR_SIGNATURE_REQUIRED = _(
    "Sign the release with your joint certificate: choose the certificate, enter its password and sign."
)
ERR_RELEASE_TEXT_EXPIRED = _(
    "The release text to sign has expired: it is valid for 10 minutes. Please start again from the first step."
)
ERR_NO_USABLE_CERTIFICATE = _(
    "This certificate has expired, was revoked (for example after it was reported lost) or is not "
    "registered with this bank, so it cannot be used to release the suspension. A certificate can only "
    "be issued or reissued while internet banking is in normal use: please visit a branch with your ID "
    "to release the suspension."
)
USER_ID_SMS = _("[%(bank)s] Your internet banking user ID is %(username)s. If you did not ask for it, call us.")


class IdentifyPurpose(enum.StrEnum):
    """What an anonymous visitor identifies for, and so which identifying number and state count.

    - ``register`` (인터넷뱅킹 등록): RRN or business registration number; an application awaiting
      registration, within its deadline.
    - ``lookup`` (아이디 찾기): birth date as 8 digits ``YYYYMMDD`` or business registration number;
      an active agreement. A 6-digit ``YYMMDD`` is not accepted: without the RRN's century digit a
      two-digit year names two possible people a century apart, and one clear format is easier
      to explain than a guess.
    - ``release`` (일시정지 해제): RRN or business registration number; a dormancy or wrong-entry
      suspension.
    - ``certificate`` (인증서 발급): RRN or business registration number; an active agreement (a
      suspended one is told how to release it first, as for ``lookup``).
    """

    REGISTER = "register"
    LOOKUP = "lookup"
    RELEASE = "release"
    CERTIFICATE = "certificate"


def agreement_release_actor() -> SystemActor:
    """The actor of the online release's signing step: the web flows' checks (``ebanking_web``)
    plus storing the customer's signature over the release text as evidence."""
    return system_actor("ebanking_web", WEB_FLOW_PERMISSIONS | {RELEASE_SIGNATURE_PERMISSION})


def _normal_name(name: str) -> str:
    return " ".join((name or "").split()).casefold()


def _birth_date(text: str) -> dt.date | None:
    digits = "".join(ch for ch in text if ch not in " -./")
    if not (len(digits) == 8 and digits.isascii() and digits.isdigit()):
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _identity_matches(customer: Customer, purpose: IdentifyPurpose, name: str, id_number: str) -> bool:
    """Name and identifying number: RRN (by blind index) or BRN; birth date instead of RRN for lookup."""
    if _normal_name(customer.name) != _normal_name(name):
        return False
    text = (id_number or "").strip()
    if purpose is IdentifyPurpose.LOOKUP:
        born = _birth_date(text)
        if born is not None:
            return customer.birth_date is not None and customer.birth_date == born
    else:
        try:
            index = rrn_blind_index(normalise_rrn(text))
        except InvalidNumber:
            pass
        else:
            return customer.rrn_index is not None and hmac.compare_digest(customer.rrn_index, index)
    try:
        return customer.brn is not None and customer.brn == parse_brn(text)
    except InvalidNumber:
        return False


def _find_by_account(account_number: str) -> tuple[Agreement, Account] | None:
    """The agreement that designates this withdrawal account: the holder's open agreement, else
    their newest one (to say that it lapsed or ended). ``None`` when nothing matches."""
    try:
        number = accountnumbers.normalise(account_number)
    except accountnumbers.InvalidAccountNumber:
        return None
    account = Account.objects.filter(number=number, kind=Account.Kind.CUSTOMER).first()
    if account is None or account.holder_id is None:
        return None
    agreements = Agreement.objects.filter(customer_id=account.holder_id).select_related("customer")
    agreement = agreements.filter(state__in=Agreement.OPEN_STATES).first() or agreements.first()
    if agreement is None or not agreement.withdrawal_accounts.filter(pk=account.pk).exists():
        return None
    return agreement, account


def _audit_refusal(action: str, actor: Actor, customer_id: int | None, obj: Any, code: str, **details: Any) -> None:
    with transaction.atomic():
        audit_record(action=action, actor=actor, customer_id=customer_id, obj=obj, details={"refusal": code, **details})


def _count_wrong_entry(agreement: Agreement, actor: Actor, what: str, now: dt.datetime) -> None:
    """A wrong entry counts on an active agreement (the 5th suspends it and texts the customer)."""
    if agreement.state == State.ACTIVE:
        agreement_record_wrong_entry(agreement=agreement, actor=actor, what=what, now=now)


def _state_refusal(agreement: Agreement, purpose: IdentifyPurpose, now: dt.datetime) -> ValidationError | None:
    """Why ``agreement`` in its current state cannot go on with ``purpose`` (``None``: it can)."""
    state = agreement.state
    if state == State.TERMINATED:
        return _refuse(ERR_AGREEMENT_TERMINATED, "agreement_terminated")
    if purpose is IdentifyPurpose.REGISTER:
        if state in (State.ACTIVE, State.SUSPENDED):
            return _refuse(ERR_ALREADY_REGISTERED, "already_registered")
        if state == State.LAPSED or not rules.registration_open(agreement.applied_at, now):
            return _refuse(ERR_REGISTRATION_CLOSED, "registration_closed")
        return None
    if state == State.LAPSED:
        return _refuse(ERR_APPLICATION_LAPSED, "application_lapsed")
    if state == State.APPLIED:
        if not rules.registration_open(agreement.applied_at, now):
            return _refuse(ERR_APPLICATION_LAPSED, "application_lapsed")
        return _refuse(ERR_NOT_REGISTERED_YET, "not_registered")
    online = agreement.suspension_reason in ONLINE_RELEASE_REASONS
    if purpose in (IdentifyPurpose.LOOKUP, IdentifyPurpose.CERTIFICATE):
        if state == State.SUSPENDED:
            if online:
                return _refuse(ERR_LOOKUP_SUSPENDED, "suspended_release_online")
            return _refuse(ERR_SUSPENDED_BRANCH_ONLY, "suspended_branch_only")
        return None
    if state == State.ACTIVE:
        return _refuse(ERR_RELEASE_NOT_SUSPENDED, "not_suspended")
    if not online:
        return _refuse(ERR_ONLINE_RELEASE_REASON, "online_release_reason")
    return None


def agreement_identify(
    *,
    purpose: str,
    name: str,
    id_number: str,
    account_number: str,
    account_password: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Agreement:
    """Identify an anonymous visitor by the agreement's data (registration, ID lookup, release).

    ``purpose`` is an ``IdentifyPurpose``; ``id_number`` the RRN or business registration number,
    or for ``lookup`` the birth date (``YYYYMMDD``) or business registration number. Details that
    match no agreement get one refusal (``ERR_DETAILS_MISMATCH``) that says neither which field was
    wrong nor whether the customer exists; a wrong account password gets the same one. A withdrawal
    account of an **active** agreement with wrong identifying data, or a wrong account password,
    counts a wrong entry on that agreement (the 5th suspends it and texts the customer); the
    account password also counts on the account's own lock. Only when everything matches does the
    state decide (a closed registration period, a suspension to release first, ...), each with its
    own message. A success resets the active agreement's wrong-entry count (audited) but is not a
    use for dormancy. Every refusal and success is audited with the purpose.

    Not atomic as a whole: the wrong-entry and password counts commit in their own transactions,
    so call it outside any transaction. Raises ``ValidationError``; ``PermissionDenied`` without
    ``accounts.use_agreement``.
    """
    require_perm(actor, USE_PERMISSION)
    purpose = IdentifyPurpose(purpose)
    now = now or timezone.now()
    found = _find_by_account(account_number)
    if found is None:
        _audit_refusal("agreement.identify_refused", actor, None, None, "details_mismatch", purpose=purpose.value)
        raise _refuse(ERR_DETAILS_MISMATCH, "details_mismatch")
    agreement, account = found

    def refuse(error: ValidationError, code: str) -> ValidationError:
        _audit_refusal(
            "agreement.identify_refused", actor, agreement.customer_id, agreement, code, purpose=purpose.value
        )
        return error

    if not _identity_matches(agreement.customer, purpose, name, id_number):
        _count_wrong_entry(agreement, actor, "identifying_data", now)
        raise refuse(_refuse(ERR_DETAILS_MISMATCH, "details_mismatch"), "identity_mismatch")
    checked = account_password_check(account=account, password=account_password, actor=actor)
    if checked is PasswordCheck.LOCKED:
        raise refuse(_refuse(ERR_ACCOUNT_PASSWORD_LOCKED, "account_password_locked"), "account_password_locked")
    if checked is PasswordCheck.WRONG:
        _count_wrong_entry(agreement, actor, "account_password", now)
        raise refuse(_refuse(ERR_DETAILS_MISMATCH, "details_mismatch"), "account_password_wrong")
    with transaction.atomic():
        # Lock the row: the state decided on must be the one the reset is written against.
        locked = _lock(agreement)
        refusal = _state_refusal(locked, purpose, now)
        if refusal is None:
            if locked.state == State.ACTIVE and locked.wrong_entries:
                was = locked.wrong_entries
                locked.wrong_entries = 0
                locked.save(update_fields=["wrong_entries"])
                audit_record(
                    action="agreement.wrong_entries_reset",
                    actor=actor,
                    customer_id=locked.customer_id,
                    obj=locked,
                    details={"was": was, "by": f"identify:{purpose.value}"},
                )
            audit_record(
                action="agreement.identify",
                actor=actor,
                customer_id=locked.customer_id,
                obj=locked,
                details={"purpose": purpose.value},
            )
    if refusal is not None:
        raise refuse(refusal, refusal.code or "state")
    locked.customer = agreement.customer
    return locked


def mask_user_id(username: str) -> str:
    """The user ID as the lookup page shows it: the first 3 characters, then one ``*`` for each
    other character (``alice2026`` → ``ali******``). User IDs have 6 to 20 characters, so at least
    half of the shortest is hidden; the full ID goes only to the registered phone."""
    return username[:USER_ID_SHOWN] + "*" * max(0, len(username) - USER_ID_SHOWN)


@transaction.atomic
def agreement_user_id_lookup(*, agreement: Agreement, actor: Actor) -> str:
    """아이디 찾기: the masked user ID of an active agreement, for the page; the full ID goes by SMS
    to the customer's registered phone after commit. Audited.

    Call it with the agreement ``agreement_identify(purpose="lookup", ...)`` returned. Raises
    ``ValidationError`` unless the agreement is active with a login; ``PermissionDenied`` for anyone
    but the customer's own user or an actor with ``accounts.use_agreement``.
    """
    _require_customer_or_perm(actor, agreement, USE_PERMISSION)
    current = Agreement.objects.select_related("customer", "user").get(pk=agreement.pk)
    if current.state != State.ACTIVE or current.user is None:
        raise _refuse(ERR_LOOKUP_NOT_ACTIVE, "not_active")
    username = current.user.get_username()
    masked = mask_user_id(username)
    send_sms_on_commit(
        to=current.customer.phone,
        body=str(USER_ID_SMS) % {"bank": settings.BANK_NAME_KO, "username": username},
        purpose="agreement_user_id_lookup",
    )
    audit_record(
        action="agreement.user_id_lookup",
        actor=actor,
        customer_id=current.customer_id,
        obj=current,
        details={"shown": masked},
    )
    return masked


def _check_login(username: str, password: str, customer: Customer) -> None:
    errors: dict[str, list[ValidationError]] = {}
    if not rules.user_id_valid(username):
        errors["username"] = [_refuse(ERR_USER_ID_FORMAT, "user_id_format")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_refuse(ERR_USER_ID_TAKEN, "user_id_taken")]
    try:
        validate_password(password, user=User(username=username, first_name=customer.name, email=customer.email))
    except ValidationError as exc:
        errors["password"] = exc.error_list
    if errors:
        raise ValidationError(errors)


def agreement_register_online(
    *,
    agreement: Agreement,
    medium_verified: bool,
    username: str,
    password: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Agreement:
    """Register an applied agreement for internet banking (인터넷뱅킹 등록) and create its login.

    ``agreement`` is the one ``agreement_identify(purpose="register", ...)`` returned (the account
    password was checked there); ``medium_verified`` says the page has checked the security medium
    challenge (``otp.services.security_medium_verify``) for this customer since. Refused after the
    deadline (D+4 23:59:59 KST) even if the lapse job has not run: checked first and again under
    the row lock. Raises ``ValidationError`` (fields ``username``/``password`` for the login
    choices) for an ended period, an agreement already registered or ended, an unverified medium,
    a bad or taken user ID or a weak password; ``PermissionDenied`` without
    ``accounts.use_agreement``.
    """
    require_perm(actor, USE_PERMISSION)
    now = now or timezone.now()
    current = Agreement.objects.select_related("customer").get(pk=agreement.pk)
    refusal = _state_refusal(current, IdentifyPurpose.REGISTER, now)
    if refusal is not None:
        _audit_refusal("agreement.register_refused", actor, current.customer_id, current, refusal.code or "state")
        raise refusal
    if not medium_verified:
        raise _refuse(ERR_MEDIUM_NOT_VERIFIED, "medium_not_verified")
    _check_login(username, password, current.customer)
    try:
        return _register(agreement=current, username=username, password=password, actor=actor, now=now)
    except IntegrityError:
        # Someone took the user ID between the check and the insert.
        raise ValidationError({"username": [_refuse(ERR_USER_ID_TAKEN, "user_id_taken")]}) from None


@transaction.atomic
def _register(*, agreement: Agreement, username: str, password: str, actor: Actor, now: dt.datetime) -> Agreement:
    locked = _lock(agreement)
    # Again under the lock: the deadline may pass, or another tab register, while the user chose an ID.
    refusal = _state_refusal(locked, IdentifyPurpose.REGISTER, now)
    if refusal is not None:
        raise refusal
    user = User(username=username, customer_id=locked.customer_id, first_name=agreement.customer.name)
    user.email = agreement.customer.email
    user.set_password(password)
    user.save()
    locked.state = State.ACTIVE
    locked.user = user
    locked.registered_at = now
    # Registration is the first use: dormancy counts from here.
    locked.last_used_at = now
    locked.wrong_entries = 0
    locked.save(update_fields=["state", "user", "registered_at", "last_used_at", "wrong_entries"])
    audit_record(
        action="agreement.register",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"username": username, "user": user.pk},
    )
    return locked


class _ReleaseUndone(Exception):
    """Raised inside the release transaction to roll back what it wrote (the signature evidence)."""

    def __init__(self, refusal: ValidationError) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


def release_nonce() -> str:
    """A fresh nonce for one release flow's text (kept in that flow's session state only)."""
    return secrets.token_urlsafe(RELEASE_NONCE_BYTES)


def release_text(*, agreement: Agreement, nonce: str, issued_at: dt.datetime) -> str:
    """The text the customer signs to release ``agreement``'s suspension (전자서명 원문).

    Built with ``certcenter.signing.canonical_text`` from what is released (bank, customer,
    agreement, suspension reason and time) and the flow's ``nonce`` and ``issued_at`` (when the
    signing step opened, KST to the second). The page shows exactly this text and the browser
    signs it; the release builds it again from the locked agreement, so a signature over any
    other text (an earlier flow's nonce, another agreement) does not verify. Values are stable
    codes, not translated labels: the text does not depend on the page's language.
    """
    if not isinstance(nonce, str) or not RELEASE_NONCE_MIN <= len(nonce) <= RELEASE_NONCE_MAX or not nonce.isascii():
        raise ValueError("a release text needs the flow's nonce")
    if timezone.is_naive(issued_at):
        raise ValueError("issued_at must be aware")
    suspended_at = agreement.suspended_at
    return canonical_text(
        {
            "action": RELEASE_SIGNATURE_PURPOSE,
            "title": RELEASE_TEXT_TITLE,
            "bank": f"{settings.BANK_CODE} {settings.BANK_NAME_KO}",
            "customer": " ".join(agreement.customer.name.split()),
            "agreement": str(agreement.pk),
            "suspension": agreement.suspension_reason,
            "suspended_at": suspended_at.astimezone(KST).isoformat(timespec="seconds") if suspended_at else "",
            "time": issued_at.astimezone(KST).isoformat(timespec="seconds"),
            "nonce": nonce,
        }
    )


def release_text_fresh(issued_at: dt.datetime, now: dt.datetime) -> bool:
    """A release text can be signed from when it was made up to and including 10 minutes later."""
    return issued_at <= now <= issued_at + RELEASE_TEXT_LIFETIME


def _signature_refusal(refusal: ValidationError) -> ValidationError:
    """The certificate centre's refusal, with the release's own message where the certificate itself
    cannot be used: it cannot be reissued or registered online while the agreement is suspended."""
    if refusal.code in CERTIFICATE_UNUSABLE_CODES:
        return _refuse(ERR_NO_USABLE_CERTIFICATE, refusal.code or "certificate_unusable")
    return refusal


def agreement_release_online(
    *,
    agreement: Agreement,
    actor: Actor,
    medium_verified: bool,
    additional_auth: Callable[[], object | None],
    signature: Callable[[str], Any],
    nonce: str,
    issued_at: dt.datetime,
    now: dt.datetime | None = None,
) -> Agreement:
    """Release a dormancy or wrong-entry suspension online (보안센터 → 인터넷뱅킹 일시정지 해제).

    The page has identified the customer (``agreement_identify(purpose="release", ...)``: data,
    withdrawal account and its password), checked the security medium (``medium_verified``) and
    the SMS/ARS code, then shown ``release_text(agreement, nonce, issued_at)``, which the customer
    signed with a joint certificate in the browser. ``accounts`` takes the other apps' checks as
    callables, because ``otp`` and ``certcenter`` build on ``accounts`` (importing their services
    here would close an import cycle; docs/architecture.md, "Import direction"):

    - ``signature(text)`` verifies the customer's signature over the text this service builds and
      stores it as evidence (the page binds ``certcenter.services.signature_verify`` to the
      customer, certificate, signature, purpose ``suspension_release`` and actor); it returns the
      evidence (its ``pk`` goes into the release audit) or raises ``ValidationError``;
    - ``additional_auth()`` spends the SMS/ARS verification, once, and returns it, or ``None``
      when there is none to spend (``otp.services.additional_auth_use`` bound to the customer and
      purpose ``suspension_release``).

    Order, all in one transaction, so that nothing is left half-done:

    1. lock the agreement (the document row first, as every agreement service does; a second
       submission of the same flow waits here, then finds the agreement active and is refused);
    2. check the state (still suspended, for a reason released online): a release that cannot
       happen neither stores a signature nor spends the code;
    3. verify the signature **before** spending the verification: it is the check a customer can
       fail (another certificate, expired, revoked, a wrong key file), and a refusal must leave
       the SMS verification unspent so that they can retry with the right certificate. The
       certificate centre audits the refusal; nothing else has been written, so the transaction
       commits only that;
    4. spend the verification; when there is none (its 10 minutes passed, or another request
       spent it) the whole transaction is rolled back, evidence included: no signature evidence
       for a release that did not happen;
    5. release, audited with the evidence's id, last.

    Raises ``ValidationError`` when not suspended, suspended for another reason (branch only), the
    medium is unverified, the text is older than 10 minutes (or from the future), the signature is
    missing or refused (the certificate centre's code; expired, revoked and unknown certificates
    get ``ERR_NO_USABLE_CERTIFICATE``) or no verification is there to spend; every refusal is
    audited (``agreement.release_refused``). ``PermissionDenied`` for staff (they release through
    an approved staff request) and for anyone but the customer's own user or an actor with
    ``accounts.use_agreement``. ``ValueError`` for a malformed nonce (the caller's mistake).
    """
    _require_customer_or_perm(actor, agreement, USE_PERMISSION)
    if is_staff_actor(actor):
        raise PermissionDenied("staff release through an approved staff request")
    if not medium_verified:
        raise _refuse(ERR_MEDIUM_NOT_VERIFIED, "medium_not_verified")
    now = now or timezone.now()
    refusal: ValidationError | None = None
    locked = agreement
    if not release_text_fresh(issued_at, now):
        refusal = _refuse(ERR_RELEASE_TEXT_EXPIRED, "release_text_expired")
    else:
        try:
            with transaction.atomic():
                locked = _lock(agreement)
                refusal = _state_refusal(locked, IdentifyPurpose.RELEASE, now)
                if refusal is None:
                    refusal = _sign_and_release(
                        locked,
                        text=release_text(agreement=locked, nonce=nonce, issued_at=issued_at),
                        signature=signature,
                        additional_auth=additional_auth,
                        actor=actor,
                        now=now,
                    )
        except _ReleaseUndone as undone:
            refusal = undone.refusal
    if refusal is not None:
        _audit_refusal("agreement.release_refused", actor, locked.customer_id, locked, refusal.code or "state")
        raise refusal
    return locked


def _sign_and_release(
    locked: Agreement,
    *,
    text: str,
    signature: Callable[[str], Any],
    additional_auth: Callable[[], object | None],
    actor: Actor,
    now: dt.datetime,
) -> ValidationError | None:
    """Steps 3-5 of ``agreement_release_online`` under its agreement lock; the refusal, or ``None``
    once released. Raises ``_ReleaseUndone`` to roll back evidence already stored."""
    try:
        evidence = signature(text)
    except ValidationError as refused:
        return _signature_refusal(refused)
    if evidence is None:
        return _refuse(ERR_SIGNATURE_REQUIRED, "signature_required")
    if additional_auth() is None:
        raise _ReleaseUndone(_refuse(ERR_ADDITIONAL_AUTH_REQUIRED, "additional_auth_required"))
    _release(
        locked,
        actor=actor,
        now=now,
        details={
            "channel": "online",
            "evidence": evidence.pk,
            "certificate_serial": str(getattr(evidence, "certificate_serial", "")),
        },
    )
    return None
