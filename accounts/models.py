from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts.idnumbers import age_on, format_brn, is_minor
from accounts.money import MoneyField
from bankportal.audit.expressions import CurrentTransactionId


class Customer(models.Model):
    """A real-name customer (고객). The RRN is stored only encrypted, with a blind index to find it."""

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        INDIVIDUAL_BUSINESS = "individual_business", _("Individual business")
        CORPORATION = "corporation", _("Corporation")

    class RepresentativeRelation(models.TextChoices):
        PARENT = "parent", _("Parent")
        GUARDIAN = "guardian", _("Guardian")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("mobile phone"), max_length=11, help_text=_("Digits only, e.g. 01012345678"))
    email = models.EmailField(_("email"), blank=True)
    # Resident registration number: AES-GCM ciphertext + key id; never stored or shown in clear.
    # The ciphertext's associated data includes rrn_index, so it decrypts only on its own row.
    rrn_ciphertext = models.TextField(blank=True, editable=False)
    rrn_key_id = models.CharField(max_length=16, blank=True, editable=False, db_index=True)
    rrn_index = models.CharField(max_length=64, null=True, blank=True, editable=False, unique=True)
    rrn_masked = models.CharField(_("resident registration number"), max_length=14, blank=True, editable=False)
    birth_date = models.DateField(_("birth date"), null=True, blank=True, editable=False)
    brn = models.CharField(_("business registration number"), max_length=10, null=True, blank=True, unique=True)
    legal_representative = models.ForeignKey(
        "self",
        verbose_name=_("legal representative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wards",
    )
    representative_relation = models.CharField(
        _("relation of representative"), max_length=16, choices=RepresentativeRelation.choices, blank=True
    )
    # A minor who signed up alone: transfer caps apply until a branch verifies identity and lifts them.
    solo_minor_cap = models.BooleanField(_("minor sign-up cap"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["id"]
        permissions = [
            ("lift_minor_cap", "Can lift the minor sign-up transfer cap"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="individual") | (Q(rrn_index__isnull=False) & Q(brn__isnull=True)),
                name="customer_individual_has_rrn_only",
            ),
            models.CheckConstraint(
                condition=~Q(kind="individual_business") | (Q(rrn_index__isnull=False) & Q(brn__isnull=False)),
                name="customer_business_has_rrn_and_brn",
            ),
            models.CheckConstraint(
                condition=~Q(kind="corporation") | Q(brn__isnull=False),
                name="customer_corporation_has_brn",
            ),
            models.CheckConstraint(
                condition=Q(legal_representative__isnull=True) | ~Q(representative_relation=""),
                name="customer_representative_has_relation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id_display})"

    @property
    def id_display(self) -> str:
        """The real-name number as staff and customers may see it: masked RRN, or the BRN."""
        if self.kind == self.Kind.CORPORATION and self.brn:
            return format_brn(self.brn)
        return self.rrn_masked

    @property
    def brn_display(self) -> str:
        return format_brn(self.brn) if self.brn else ""

    @property
    def is_business(self) -> bool:
        return self.kind != self.Kind.INDIVIDUAL

    def age(self, today: dt.date) -> int | None:
        return age_on(self.birth_date, today) if self.birth_date else None

    def is_minor(self, today: dt.date) -> bool:
        return self.birth_date is not None and is_minor(self.birth_date, today)


class User(AbstractUser):
    """A login identity. Customers' users link to their ``Customer``; staff users have none.

    A corporate customer may have several users (master administrator and employees).
    """

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")


class DepositProduct(models.Model):
    class Kind(models.TextChoices):
        DEMAND = "demand", _("Demand deposit")
        TIME = "time", _("Time deposit")
        INSTALLMENT = "installment", _("Installment savings")

    code = models.CharField(
        _("product code"), max_length=2, unique=True, help_text=_("Two digits; part of the account number")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name_ko = models.CharField(_("name (Korean)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    summary_ko = models.TextField(_("summary (Korean)"), blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    interest_rate_bp = models.PositiveIntegerField(_("interest rate (basis points a year)"), default=0)
    min_opening_amount = MoneyField(_("minimum opening amount (won)"), default=0)
    is_active = models.BooleanField(_("on sale"), default=True)
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "code"]
        verbose_name = _("deposit product")
        verbose_name_plural = _("deposit products")
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{2}$"), name="product_code_two_digits"),
            models.CheckConstraint(condition=Q(min_opening_amount__gte=0), name="product_min_opening_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_ko}"

    def name_for(self, language: str | None) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_ko

    def summary_for(self, language: str | None) -> str:
        return self.summary_en if language == "en" and self.summary_en else self.summary_ko

    @property
    def interest_rate_display(self) -> str:
        return f"{self.interest_rate_bp // 100}.{self.interest_rate_bp % 100:02d}"


class Account(models.Model):
    """A deposit account (계좌), or one of the bank's internal accounts for the other leg of entries."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer account")
        INTERNAL = "internal", _("Bank internal account")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Payment stopped")
        CLOSED = "closed", _("Closed")

    class Internal(models.TextChoices):
        BRANCH_CASH = "branch_cash", _("Branch cash")
        FEE_INCOME = "fee_income", _("Fee income")
        INTERBANK_CLEARING = "interbank_clearing", _("Interbank clearing")

    number = models.CharField(_("account number"), max_length=12, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CUSTOMER, editable=False)
    # Internal accounts are per branch (cash, fee income) or per counterparty bank (clearing), so
    # no single row is shared by the whole bank; see accounts.services.ledger, "Lock order".
    # NULL (not "") on customer accounts: the account_kind_shape constraint tests it with isnull.
    internal_code = models.CharField(  # noqa: DJ001
        max_length=32, choices=Internal.choices, null=True, blank=True, editable=False
    )
    counterparty_bank = models.CharField(
        _("counterparty bank code"), max_length=3, blank=True, default="", editable=False
    )
    product = models.ForeignKey(
        DepositProduct, verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT
    )
    holder = models.ForeignKey(
        Customer, verbose_name=_("holder"), null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    branch = models.CharField(_("branch"), max_length=3)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Customer accounts: the live balance, changed under the row lock with every posting.
    # Internal accounts: the rolled-up figure (postings never touch the row; the roll-up job adds
    # the entries of finished transactions, see ``rollup_xid`` / ``rollup_entry_id``).
    balance = MoneyField(_("balance (won)"), default=0, editable=False)
    allow_negative = models.BooleanField(default=False, editable=False)
    # Internal accounts only: which entries ``balance`` covers. On PostgreSQL every entry whose
    # transaction id (``LedgerEntry.txid``) is below ``rollup_xid``; on SQLite (one writer) every
    # entry up to ``rollup_entry_id``.
    rollup_xid = models.BigIntegerField(null=True, blank=True, editable=False)
    rollup_entry_id = models.BigIntegerField(default=0, editable=False)
    rolled_up_at = models.DateTimeField(_("balance rolled up at"), null=True, blank=True, editable=False)
    # Keyed HMAC of the 4-digit password (or a wrapped pre-keyed hash), see accounts.pins; the
    # id of the ACCOUNT_PIN_KEY it was made under sits beside it so the key can rotate.
    password_hash = models.CharField(max_length=255, blank=True, editable=False)
    password_key_id = models.CharField(max_length=16, blank=True, editable=False, db_index=True)
    password_failures = models.PositiveSmallIntegerField(_("consecutive password failures"), default=0, editable=False)
    password_locked_at = models.DateTimeField(_("password locked at"), null=True, blank=True, editable=False)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["number"]
        permissions = [
            ("take_cash", "Can take branch cash deposits and withdrawals"),
            ("reset_account_password", "Can reset an account password after an ID check"),
        ]
        constraints = [
            # Only the bank's own internal accounts may go below zero (e.g. branch cash as the contra leg).
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(allow_negative=True), name="account_balance_non_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="customer")
                    & Q(holder__isnull=False)
                    & Q(allow_negative=False)
                    & Q(internal_code__isnull=True)
                )
                | (Q(kind="internal") & Q(holder__isnull=True) & Q(internal_code__isnull=False)),
                name="account_kind_shape",
            ),
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{12}$"), name="account_number_twelve_digits"),
            # One internal account per purpose, branch and counterparty: created lazily, race-safe.
            models.UniqueConstraint(
                fields=["internal_code", "branch", "counterparty_bank"],
                condition=Q(internal_code__isnull=False),
                name="account_internal_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.number_display

    @property
    def number_display(self) -> str:
        return accountnumbers.display(self.number)

    @property
    def password_locked(self) -> bool:
        return self.password_locked_at is not None


class AccountNumberSequence(models.Model):
    """Last serial issued per branch and product; locked while a number is taken."""

    branch = models.CharField(max_length=3)
    product_code = models.CharField(max_length=2)
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["branch", "product_code"], name="account_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.branch}-{self.product_code}: {self.last_serial}"


class Journal(models.Model):
    """One business event moving money: its entries sum to zero."""

    class Kind(models.TextChoices):
        CASH_DEPOSIT = "cash_deposit", _("Cash deposit")
        CASH_WITHDRAWAL = "cash_withdrawal", _("Cash withdrawal")
        TRANSFER = "transfer", _("Transfer")
        FEE = "fee", _("Fee")
        REVERSAL = "reversal", _("Reversal")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    memo = models.CharField(_("memo"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("posted at"), auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reverses = models.OneToOneField(
        "self", verbose_name=_("reverses"), null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    class Meta:
        verbose_name = _("journal")
        verbose_name_plural = _("journals")
        ordering = ["-id"]
        permissions = [("reverse_journal", "Can reverse a posted journal")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class LedgerEntry(models.Model):
    """One leg of a journal on one account.

    ``balance_after`` is a customer account's balance once applied (it runs on from entry to
    entry); internal legs are appended without locking their account, so theirs is NULL.
    ``txid`` is the inserting PostgreSQL transaction (a column default; NULL on SQLite), which
    tells the internal-balance roll-up which entries belong to finished transactions.
    """

    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = MoneyField(_("amount (won)"))
    balance_after = MoneyField(_("balance after (won)"), null=True, blank=True)
    txid = models.BigIntegerField(null=True, blank=True, editable=False, db_default=CurrentTransactionId())
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "id"], name="ledger_account_id_idx"),
            models.Index(fields=["account", "txid"], name="ledger_account_txid_idx"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_non_zero")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+,}"


class StaffRequest(models.Model):
    """A branch task that needs a manager's approval (책임자 승인, maker–checker).

    A teller records the request with a reason; a different staff member with the manager role
    approves or rejects it; only the approval executes it (``accounts.services.staff_requests``).
    Nothing secret is stored: an account password reset is approved first, then the customer types
    the new password on the counter keypad against the approved request, once.
    """

    class Kind(models.TextChoices):
        # Adding a kind: a choice here and one ``staff_request_executor`` registration.
        ACCOUNT_PASSWORD_RESET = "account_password_reset", _("Reset account password")
        CONTACT_CHANGE = "contact_change", _("Change contact phone or email")
        MINOR_CAP_LIFT = "minor_cap_lift", _("Lift the minor sign-up cap")
        JOURNAL_REVERSE = "journal_reverse", _("Reverse a journal")
        SECURITY_CARD_UNLOCK = "security_card_unlock", _("Unlock a security card")
        OTP_UNLOCK = "otp_unlock", _("Unlock an OTP token")
        AGREEMENT_RELEASE = "agreement_release", _("Release a suspended e-banking agreement")
        CERTIFICATE_REVOKE = "certificate_revoke", _("Revoke a certificate")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        EXECUTED = "executed", _("Executed")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    OPEN_STATES = (State.PENDING, State.APPROVED)

    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    journal = models.ForeignKey(
        Journal, verbose_name=_("journal"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What the execution needs besides the target, e.g. the new phone and email. Never a secret.
    payload = models.JSONField(_("details"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), db_index=True)
    expires_at = models.DateTimeField(_("expires at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("executed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    executed_at = models.DateTimeField(_("executed at"), null=True, blank=True)
    # When it was cancelled by its requester or expired unexecuted.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("staff request")
        verbose_name_plural = _("staff requests")
        ordering = ["-requested_at", "-id"]
        permissions = [("approve_staffrequest", "Can approve or reject staff requests (branch manager)")]
        indexes = [models.Index(fields=["state", "expires_at"], name="staffrequest_open_idx")]
        constraints = [
            # Nobody approves (or rejects) their own request.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                name="staffrequest_not_decided_by_requester",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="staffrequest_reason_required"),
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(journal__isnull=False), name="staffrequest_has_target"
            ),
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("requested_at")), name="staffrequest_expiry"),
            models.CheckConstraint(
                condition=(
                    Q(
                        state="pending",
                        decided_by__isnull=True,
                        decided_at__isnull=True,
                        executed_at__isnull=True,
                        executed_by__isnull=True,
                        closed_at__isnull=True,
                    )
                    | Q(
                        state__in=["approved", "rejected"],
                        decided_by__isnull=False,
                        decided_at__isnull=False,
                        executed_at__isnull=True,
                        executed_by__isnull=True,
                        closed_at__isnull=True,
                    )
                    | Q(
                        state="executed",
                        decided_by__isnull=False,
                        decided_at__isnull=False,
                        executed_at__isnull=False,
                        executed_by__isnull=False,
                        closed_at__isnull=True,
                    )
                    | Q(
                        state__in=["cancelled", "expired"],
                        executed_at__isnull=True,
                        executed_by__isnull=True,
                        closed_at__isnull=False,
                    )
                ),
                name="staffrequest_state_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    def is_open(self, now: dt.datetime) -> bool:
        """Pending or approved, and not past its expiry (the row may not say so yet)."""
        return self.state in self.OPEN_STATES and now < self.expires_at

    def effective_state(self, now: dt.datetime) -> str:
        if self.state in self.OPEN_STATES and now >= self.expires_at:
            return self.State.EXPIRED
        return self.state


class Agreement(models.Model):
    """An e-banking agreement (전자금융 약정): what makes a customer an internet-banking user.

    Applied at a branch (``applied``), registered online within 5 days counting the application
    day (``active``) or else ``lapsed``; an active one is ``suspended`` (dormant, wrong entries,
    customer request, staff) and released back to ``active``; any may be ``terminated``. Changed
    only through ``accounts.services.agreements``. Rules: ``accounts.agreements``.
    """

    class State(models.TextChoices):
        APPLIED = "applied", _("Applied, awaiting online registration")
        ACTIVE = "active", _("Active")
        LAPSED = "lapsed", _("Lapsed (not registered in time)")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")

    class SuspensionReason(models.TextChoices):
        DORMANT = "dormant", _("No use for 12 months")
        WRONG_ENTRIES = "wrong_entries", _("5 consecutive wrong entries")
        CUSTOMER_REQUEST = "customer_request", _("Customer request")
        STAFF = "staff", _("Suspended by staff")

    # Lapsed and terminated agreements are history: a new application may follow them.
    OPEN_STATES = (State.APPLIED, State.ACTIVE, State.SUSPENDED)

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="agreements"
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.APPLIED)
    suspension_reason = models.CharField(
        _("suspension reason"), max_length=24, choices=SuspensionReason.choices, blank=True
    )
    withdrawal_accounts = models.ManyToManyField(
        Account, verbose_name=_("withdrawal accounts"), related_name="withdrawal_agreements"
    )
    # The checked documents: values of ``accounts.agreements.Document``, sorted.
    documents = models.JSONField(_("documents checked"), default=list, blank=True)
    minor_signed_up_alone = models.BooleanField(_("minor signed up alone"), default=False)
    applied_at = models.DateTimeField(_("applied at"))
    # No index: nothing looks agreements up by the teller, and every index costs the nightly sweeps
    # a write per changed row (staff users are deactivated, never deleted).
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applied by"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    registration_deadline = models.DateTimeField(_("online registration deadline"))
    registered_at = models.DateTimeField(_("registered online at"), null=True, blank=True)
    # The internet-banking login, created at online registration.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("internet-banking user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreement",
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    # When the advance dormancy notice (30 days before suspension) went out. It belongs to the
    # current dormancy cycle only while it is later than ``last_used_at``: a use after it starts a
    # new cycle, which gets its own notice (``accounts.services.agreement_jobs``).
    dormancy_notice_sent_at = models.DateTimeField(_("dormancy notice sent at"), null=True, blank=True)
    wrong_entries = models.PositiveSmallIntegerField(_("consecutive wrong entries"), default=0)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    lapsed_at = models.DateTimeField(_("lapsed at"), null=True, blank=True)
    terminated_at = models.DateTimeField(_("terminated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-banking agreement")
        verbose_name_plural = _("e-banking agreements")
        ordering = ["-applied_at", "-id"]
        permissions = [
            ("suspend_agreement", "Can suspend an e-banking agreement"),
            ("release_agreement", "Can approve releasing a suspended e-banking agreement"),
            ("terminate_agreement", "Can terminate an e-banking agreement"),
            ("use_agreement", "Can check and record e-banking use and wrong entries (web flows)"),
        ]
        indexes = [
            # Partial, for the nightly sweeps: a row leaving the state (lapsed, suspended) gets no new
            # entry in them, and they hold only the rows a sweep can change.
            models.Index(
                fields=["registration_deadline", "id"],
                condition=Q(state="applied"),
                name="agreement_applied_deadline_idx",
            ),
            models.Index(fields=["last_used_at", "id"], condition=Q(state="active"), name="agreement_active_used_idx"),
        ]
        constraints = [
            # One open (applied, active or suspended) agreement per customer.
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(state__in=["applied", "active", "suspended"]),
                name="agreement_one_open_per_customer",
            ),
            models.CheckConstraint(
                condition=(Q(state="suspended") & ~Q(suspension_reason="") & Q(suspended_at__isnull=False))
                | (~Q(state="suspended") & Q(suspension_reason="")),
                name="agreement_suspension_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["active", "suspended"])
                | (Q(registered_at__isnull=False) & Q(user__isnull=False)),
                name="agreement_registered_has_user",
            ),
            models.CheckConstraint(
                condition=~Q(state="lapsed") | Q(lapsed_at__isnull=False), name="agreement_lapsed_has_time"
            ),
            models.CheckConstraint(
                condition=Q(state="terminated", terminated_at__isnull=False)
                | (~Q(state="terminated") & Q(terminated_at__isnull=True)),
                name="agreement_terminated_has_time",
            ),
            models.CheckConstraint(
                condition=Q(registration_deadline__gt=models.F("applied_at")), name="agreement_deadline_after_apply"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_state_display()}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class TransferLimit(models.Model):
    """A customer's own transfer limits (이체한도): per transfer and per KST day, in won.

    Set by the customer within the maxima of their security tier (``accounts.limits``); no row means
    the tier's maxima. Lowering takes effect at once; raising needs the security medium; the minor
    cap is never raised online. Changed only through ``accounts.services.limits``.
    """

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="transfer_limit"
    )
    per_transfer = MoneyField(_("per transfer (won)"))
    per_day = MoneyField(_("per day (won)"))
    updated_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("transfer limit")
        verbose_name_plural = _("transfer limits")
        constraints = [
            models.CheckConstraint(condition=Q(per_transfer__gte=0), name="transfer_limit_per_transfer_non_negative"),
            models.CheckConstraint(
                condition=Q(per_day__gte=models.F("per_transfer")), name="transfer_limit_day_covers_one_transfer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.per_transfer:,} / {self.per_day:,}"


class DailyTransferTotal(models.Model):
    """What a customer has sent in one KST day: the daily limit's counter.

    Every transfer locks its customer's row of the day (created on first use) before it locks any
    account, and adds its amount in the same transaction: so two transfers of one customer from
    different accounts can never both slip under the daily limit.
    """

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="daily_transfer_totals"
    )
    day = models.DateField(_("day (KST)"))
    total = MoneyField(_("sent (won)"), default=0)
    count = models.PositiveIntegerField(_("transfers"), default=0)

    class Meta:
        verbose_name = _("daily transfer total")
        verbose_name_plural = _("daily transfer totals")
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="daily_transfer_total_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="daily_transfer_total_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.day}: {self.total:,}"


class Transfer(models.Model):
    """One transfer (이체) a customer made in internet banking, with its journal and signed evidence.

    ``idempotency_key`` comes from the rendered form: submitting it again (double click, back and
    resubmit, a network retry) finds this row instead of moving money twice. A transfer to another
    bank posts to that bank's clearing account and waits in the outbound queue (``queued``) until
    the clearing job marks it ``sent``, or ``returned`` with a reversing journal and a notice.
    """

    class Destination(models.TextChoices):
        OWN = "own", _("My other account")
        SAME_BANK = "same_bank", _("An account at this bank")
        OTHER_BANK = "other_bank", _("An account at another bank")

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        QUEUED = "queued", _("Waiting to be sent to the other bank")
        SENT = "sent", _("Sent to the other bank")
        RETURNED = "returned", _("Returned by the other bank")

    reference = models.CharField(_("reference number"), max_length=20, unique=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="transfers"
    )
    idempotency_key = models.UUIDField(_("idempotency key"))
    destination = models.CharField(_("destination"), max_length=16, choices=Destination.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    from_account = models.ForeignKey(
        Account, verbose_name=_("from account"), on_delete=models.PROTECT, related_name="transfers_out"
    )
    # This bank's account (own or another customer's); NULL for another bank.
    to_account = models.ForeignKey(
        Account,
        verbose_name=_("to account"),
        on_delete=models.PROTECT,
        related_name="transfers_in",
        null=True,
        blank=True,
    )
    to_bank_code = models.CharField(_("to bank code"), max_length=3)
    to_account_number = models.CharField(_("to account number"), max_length=20)
    recipient_name = models.CharField(_("recipient name"), max_length=100)
    amount = MoneyField(_("amount (won)"))
    memo_sender = models.CharField(_("memo in my history"), max_length=20, blank=True)
    memo_recipient = models.CharField(_("memo in the recipient's history"), max_length=20, blank=True)
    journal = models.OneToOneField(
        Journal, verbose_name=_("journal"), on_delete=models.PROTECT, related_name="transfer"
    )
    return_journal = models.OneToOneField(
        Journal,
        verbose_name=_("return journal"),
        on_delete=models.PROTECT,
        related_name="returned_transfer",
        null=True,
        blank=True,
    )
    # The customer's e-signature over the transfer's canonical text (certcenter keeps the evidence).
    signature_evidence = models.OneToOneField(
        "certcenter.SignatureEvidence",
        verbose_name=_("signature evidence"),
        on_delete=models.PROTECT,
        related_name="transfer",
        null=True,
        blank=True,
    )
    kst_day = models.DateField(_("day (KST)"))
    created_at = models.DateTimeField(_("made at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    return_reason = models.CharField(_("return reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="transfer_customer_created"),
            models.Index(fields=["from_account", "created_at"], name="transfer_from_created"),
            # The clearing job's queue.
            models.Index(fields=["created_at"], condition=Q(status="queued"), name="transfer_queued"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["customer", "idempotency_key"], name="transfer_idempotency_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
            models.CheckConstraint(
                condition=Q(destination__in=["own", "same_bank", "other_bank"]), name="transfer_destination_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["completed", "queued", "sent", "returned"]), name="transfer_status_valid"
            ),
            # This bank: an account row and completed at once; another bank: no row, through the queue.
            models.CheckConstraint(
                condition=(
                    Q(destination__in=["own", "same_bank"], to_account__isnull=False, status="completed")
                    | Q(destination="other_bank", to_account__isnull=True, status__in=["queued", "sent", "returned"])
                ),
                name="transfer_destination_shape",
            ),
            models.CheckConstraint(
                condition=~Q(status="returned") | Q(return_journal__isnull=False, returned_at__isnull=False),
                name="transfer_returned_has_journal",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="transfer_sent_has_time"
            ),
            models.CheckConstraint(condition=Q(to_bank_code__regex=r"^[0-9]{3}$"), name="transfer_bank_code_digits"),
            models.CheckConstraint(
                condition=Q(to_account_number__regex=r"^[0-9]{6,20}$"), name="transfer_account_number_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount:,}"
