"""Load the demo personas (idempotent). Refuses to run with DEBUG off unless told it is a demo."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services
from accounts.idnumbers import brn_check_digit, format_brn
from accounts.models import Customer, DepositProduct, User
from bankportal.middleware import RequestContext, use_context
from bankportal.timeutil import kst_today

# Published demo credentials: seed_demo refuses to run with DEBUG off (see handle()).
DEMO_PASSWORD = "Demo-pass-2026!"  # noqa: S105
DEMO_ACCOUNT_PASSWORD = "4825"  # noqa: S105

PRODUCTS = [
    {
        "code": "01",
        "kind": DepositProduct.Kind.DEMAND,
        "name_ko": "다솜 자유입출금통장",
        "name_en": "Dasom Everyday Account",
        "summary_ko": "언제든 입금과 출금이 자유로운 기본 통장입니다. 인터넷뱅킹 이체 수수료가 면제됩니다.",
        "summary_en": (
            "An everyday account for deposits and withdrawals at any time, with free internet-banking transfers."
        ),
        "interest_rate_bp": 10,
        "min_opening_amount": 0,
        "display_order": 1,
    },
    {
        "code": "02",
        "kind": DepositProduct.Kind.TIME,
        "name_ko": "다솜 정기예금 (12개월)",
        "name_en": "Dasom Time Deposit (12 months)",
        "summary_ko": "목돈을 12개월 동안 맡기고 확정 금리를 받는 예금입니다.",
        "summary_en": "Place a lump sum for 12 months at a fixed rate.",
        "interest_rate_bp": 325,
        "min_opening_amount": 1_000_000,
        "display_order": 2,
    },
    {
        "code": "03",
        "kind": DepositProduct.Kind.INSTALLMENT,
        "name_ko": "다솜 꿈나무 적금",
        "name_en": "Dasom Young Saver Installment",
        "summary_ko": "매월 일정 금액을 저축하는 적금으로 만 18세 미만 고객에게 우대금리를 드립니다.",
        "summary_en": "Save a fixed amount every month; customers under 18 get a preferential rate.",
        "interest_rate_bp": 380,
        "min_opening_amount": 10_000,
        "display_order": 3,
    },
]


def _rrn_for(birth: dt.date, gender_female: bool, serial: str) -> str:
    century = birth.year // 100 * 100
    digit = {1900: ("1", "2"), 2000: ("3", "4")}[century][1 if gender_female else 0]
    return f"{birth:%y%m%d}-{digit}{serial}"


class Command(BaseCommand):
    help = (
        "Create the demo personas: an adult customer, a minor (16) who signed up alone and so is capped at "
        "1,000,000 won per transfer and 3,000,000 won a day, a corporate customer, a teller and a branch "
        "manager, plus deposit products. Idempotent: existing personas are left as they are."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even with DEBUG off (only for a demo environment: it creates known passwords).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("seed_demo creates accounts with published passwords; refusing with DEBUG off.")
        with use_context(RequestContext(ip=None, user_agent="", channel="command")):
            rows = self._seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for role, username, where, note in rows:
            self.stdout.write(f"  {role:<32} {username:<12} {where:<8} {note}")
        self.stdout.write(f"  Account password for every demo deposit account: {DEMO_ACCOUNT_PASSWORD}")

    @transaction.atomic
    def _seed(self) -> list[tuple[str, str, str, str]]:
        for spec in PRODUCTS:
            DepositProduct.objects.update_or_create(code=spec["code"], defaults=spec)
        demand = DepositProduct.objects.get(code="01")
        installment = DepositProduct.objects.get(code="03")

        teller = self._staff("teller01", "김창구", "Teller")
        self._staff("manager01", "박지점", "Branch manager")

        today = kst_today()
        adult_birth = dt.date(1988, 5, 17)
        # The minor turns 16 thirty days before today, so the persona stays a minor whenever it is loaded.
        minor_birth = today - dt.timedelta(days=30)
        minor_birth = minor_birth.replace(year=minor_birth.year - 16, day=min(minor_birth.day, 28))

        adult = self._customer(
            "hong01",
            teller,
            kind=Customer.Kind.INDIVIDUAL,
            name="홍길동",
            phone="010-1234-5678",
            email="hong@example.com",
            rrn=_rrn_for(adult_birth, False, "234561"),
        )
        minor = self._customer(
            "minji01",
            teller,
            kind=Customer.Kind.INDIVIDUAL,
            name="이민지",
            phone="010-2345-6789",
            email="minji@example.com",
            rrn=_rrn_for(minor_birth, True, "456712"),
        )
        corp_prefix = "220875123"
        corp = self._customer(
            "acme01",
            teller,
            kind=Customer.Kind.CORPORATION,
            name="(주)다솜상사",
            phone="010-3456-7890",
            email="finance@dasomtrading.example",
            brn=format_brn(corp_prefix + str(brn_check_digit(corp_prefix))),
        )
        self._account(adult, demand, 5_000_000, teller)
        self._account(adult, installment, 300_000, teller)
        self._account(minor, demand, 200_000, teller)
        self._account(corp, demand, 120_000_000, teller)
        return [
            ("Adult customer (web member)", "hong01", "/login/", "홍길동, 2 accounts"),
            ("Minor who signed up alone", "minji01", "/login/", "이민지, age 16, transfer cap"),
            ("Corporate customer", "acme01", "/login/", "(주)다솜상사"),
            ("Teller (staff)", "teller01", "/admin/", "opens accounts, takes cash"),
            ("Branch manager (staff)", "manager01", "/admin/", "reversals, minor-cap release"),
        ]

    def _staff(self, username: str, name: str, group: str) -> User:
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": name, "is_staff": True})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=group))
        return user

    def _customer(self, username: str, teller: User, **fields: str) -> Customer:
        existing = User.objects.filter(username=username).select_related("customer").first()
        if existing is not None and existing.customer is not None:
            return existing.customer
        customer = services.customer_create(actor=teller, **fields)  # type: ignore[arg-type]
        user = User.objects.create_user(username=username, password=DEMO_PASSWORD, customer=customer)
        user.first_name = customer.name
        user.save(update_fields=["first_name"])
        return customer

    def _account(self, customer: Customer, product: DepositProduct, amount: int, teller: User) -> None:
        if customer.accounts.filter(product=product).exists():
            return
        services.account_open(
            customer=customer, product=product, password=DEMO_ACCOUNT_PASSWORD, opening_deposit=amount, actor=teller
        )
