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
    internal_code = models.CharField(
        max_length=32, choices=Internal.choices, null=True, blank=True, unique=True, editable=False
    )
    product = models.ForeignKey(
        DepositProduct, verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT
    )
    holder = models.ForeignKey(
        Customer, verbose_name=_("holder"), null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    branch = models.CharField(_("branch"), max_length=3)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    balance = MoneyField(_("balance (won)"), default=0, editable=False)
    allow_negative = models.BooleanField(default=False, editable=False)
    password_hash = models.CharField(max_length=128, blank=True, editable=False)
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
    """One leg of a journal on one account; ``balance_after`` is the account balance once applied."""

    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = MoneyField(_("amount (won)"))
    balance_after = MoneyField(_("balance after (won)"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "id"], name="ledger_account_id_idx")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_non_zero")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+,}"
