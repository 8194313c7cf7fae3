"""Load the demo personas (idempotent). Refuses to run with DEBUG off unless told it is a demo."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.agreements import Document
from accounts.identity import rrn_blind_index
from accounts.idnumbers import brn_check_digit, format_brn, normalise_rrn
from accounts.management.staff_enrolment import write_enrolment
from accounts.models import Account, Agreement, Customer, DepositProduct, User
from accounts.services.ledger import internal_balances_roll_up
from accounts.services.staff import staff_otp_enrol
from bankportal.actors import system_actor
from bankportal.audit.services import audit_seal
from bankportal.content.models import FaqEntry, Notice
from bankportal.middleware import RequestContext, use_context
from bankportal.timeutil import kst_today
from certcenter import services as certcenter_services
from certcenter.ca.keyfile import customer_key_file
from otp.models import SecurityCard
from otp.services import security_card_issue
from otp.services.cards import security_card_codes

# Published demo credentials: seed_demo refuses to run with DEBUG off (see handle()).
DEMO_PASSWORD = "Demo-pass-2026!"  # noqa: S105
DEMO_ACCOUNT_PASSWORD = "4825"  # noqa: S105
DEMO_STAFF = ("teller01", "manager01")
# The dormant persona's joint certificate (to sign the online release): files under VAR_DIR, this password.
DEMO_CERTIFICATE_PASSWORD = "Demo-cert-2026!"  # noqa: S105
DEMO_CERTIFICATE_USER = "rest01"
# Financial certificates (금융인증서): 홍길동's issued here; 이민지's issued through another institution the
# cloud also serves (a fictional securities firm whose CA this bank trusts), to register here.
DEMO_FINANCIAL_PIN = "258036"
OTHER_INSTITUTION = ("299", "한울증권", "Hanul Securities")
CA_ACTOR = system_actor("command:seed_demo", [certcenter_services.CA_INIT_PERMISSION])
STAFF_OTP_ACTOR = system_actor("command:seed_demo", ["otp_totp.add_totpdevice", "otp_totp.delete_totpdevice"])
# The nightly dormancy job's own actor, run once so the dormant persona is suspended the way the job does it.
DORMANCY_ACTOR = system_actor("command:seed_demo", ["accounts.suspend_agreement"])
PERSONAL_DOCUMENTS = [Document.RESIDENT_CARD]
BUSINESS_DOCUMENTS = [
    Document.RESIDENT_CARD,
    Document.BUSINESS_REGISTRATION,
    Document.REPRESENTATIVE_ID,
    Document.BANKBOOK,
    Document.BANKBOOK_SEAL,
]


def demo_totp_key(username: str) -> str:
    """The demo staff member's authenticator key: the same on every machine and every fresh database, so
    an authenticator app that scanned it once keeps working. Published like DEMO_PASSWORD."""
    return hashlib.sha256(f"bankportal-demo-staff-authenticator-{username}".encode()).hexdigest()[:40]


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


NOTICES = [
    {
        "title_ko": "다솜은행 인터넷뱅킹 서비스를 시작합니다",
        "title_en": "Dasom Bank internet banking is open",
        "body_ko": (
            "예금상품 안내, 공지사항, 자주 묻는 질문을 지금 바로 이용하실 수 있습니다.\n"
            "인터넷뱅킹 약정과 인증서 발급 기능은 순차적으로 제공됩니다."
        ),
        "body_en": (
            "Deposit products, notices and answers to common questions are available now.\n"
            "E-banking agreements and certificates follow step by step."
        ),
        "is_pinned": True,
    },
    {
        "title_ko": "전자금융사기 예방 안내",
        "title_en": "Protect yourself from e-finance fraud",
        "body_ko": (
            "은행은 전화나 문자로 보안카드 번호 전체나 비밀번호를 묻지 않습니다.\n"
            "인증서, 보안카드, OTP를 잃어버렸다면 즉시 고객센터로 신고해 주세요."
        ),
        "body_en": (
            "The bank never asks for every security card code or a password by phone or text.\n"
            "If a certificate, security card or OTP is lost, report it to the call centre at once."
        ),
        "is_pinned": False,
    },
]

FAQS = [
    {
        "category": FaqEntry.Category.BANKING,
        "question_ko": "인터넷뱅킹은 어떻게 신청하나요?",
        "question_en": "How do I sign up for internet banking?",
        "answer_ko": (
            "신분증을 가지고 영업점에서 전자금융 약정을 하신 뒤, 신청일을 포함해 5일 안에 "
            "인터넷으로 이용 등록을 마치셔야 합니다. 기한이 지나면 영업점에서 다시 신청해야 합니다."
        ),
        "answer_en": (
            "Sign the e-banking agreement at a branch with your ID, then register online within 5 days "
            "counting the day you applied. After that the application lapses and you apply again at a branch."
        ),
        "display_order": 1,
    },
    {
        "category": FaqEntry.Category.BANKING,
        "question_ko": "인터넷뱅킹이 일시정지되었어요.",
        "question_en": "My internet banking has been suspended.",
        "answer_ko": (
            "12개월 동안 이용하지 않았거나 비밀번호 등을 5회 연속 잘못 입력하면 자동으로 정지됩니다. "
            "보안센터에서 인증서와 보안매체로 해제하거나, 신분증을 가지고 영업점을 방문해 주세요."
        ),
        "answer_en": (
            "Banking is suspended automatically after 12 months without use or 5 wrong entries in a row. "
            "Release it in the security centre with your certificate and security medium, or at a branch with your ID."
        ),
        "display_order": 2,
    },
    {
        "category": FaqEntry.Category.CERTIFICATE,
        "question_ko": "공동인증서와 금융인증서는 무엇이 다른가요?",
        "question_en": "What is the difference between a joint and a financial certificate?",
        "answer_ko": (
            "공동인증서는 PC나 USB에 보관하며 1년마다 갱신합니다. 금융인증서는 금융결제원 클라우드에 "
            "보관되어 어느 기기에서나 6자리 PIN으로 쓸 수 있고 유효기간은 3년입니다."
        ),
        "answer_en": (
            "A joint certificate is kept on your PC or a USB drive and renewed every year. A financial "
            "certificate stays in the clearing house's cloud, works on any device with a 6-digit PIN and lasts 3 years."
        ),
        "display_order": 1,
    },
    {
        "category": FaqEntry.Category.SECURITY,
        "question_ko": "보안카드와 OTP의 이체한도는 어떻게 다른가요?",
        "question_en": "How do transfer limits differ between a security card and an OTP?",
        "answer_ko": (
            "개인 고객 기준 보안카드(일반등급)는 1회 1천만원, 1일 5천만원, OTP(안전등급)는 1회 1억원, "
            "1일 5억원까지 이체할 수 있습니다. 한도는 이 범위 안에서 직접 정할 수 있습니다."
        ),
        "answer_en": (
            "For individuals, a security card (general tier) allows 10 million won a transfer and 50 million a day; "
            "an OTP (safe tier) allows 100 million a transfer and 500 million a day. "
            "You set your own limits within these."
        ),
        "display_order": 1,
    },
]


def demo_certificate_dir(username: str, base: Path | None = None) -> Path:
    """Where the demo persona's certificate files go: ``VAR_DIR/demo-certificates/<user ID>/``."""
    return (base or Path(settings.VAR_DIR) / "demo-certificates") / username


@dataclass(frozen=True)
class DemoCertificate:
    """A certificate issued for a demo persona and its encrypted key file, to write where the customer keeps them."""

    issued: Any  # certcenter.services.IssuedCertificate
    key_file: bytes

    def write(self, directory: Path) -> None:
        """``signCert.der`` and ``signPri.key`` in ``directory`` (made if missing; the key for its owner only)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "signCert.der").write_bytes(self.issued.der)
        key_path = directory / "signPri.key"
        key_path.write_bytes(self.key_file)
        key_path.chmod(0o600)


def demo_certificate_issue(*, agreement: Agreement, account: Account, password: str, actor: Any) -> DemoCertificate:
    """Issue a restricted-use (free) joint certificate for the active ``agreement`` through the
    certificate centre's service, as the browser would (an RSA-2048 key and its CSR), with the key
    file a customer keeps on disk, in the browser's own form (``certcenter.ca.keyfile``: PBES2 with
    100,000 PBKDF2-HMAC-SHA256 iterations, AES-256-CBC, R inside), which the pages' script opens. Raises what
    ``certificate_issue`` raises."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "browser")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    identity_random = secrets.token_bytes(20)
    issued = certcenter_services.certificate_issue(
        agreement=agreement,
        withdrawal_account=account,
        kind="restricted",
        storage="file",
        csr=csr,
        identity_random=identity_random,
        medium_verified=True,  # the demo stands in for the customer at the issue page
        actor=actor,
    )
    key_file = customer_key_file(key, password, identity_random=identity_random)
    return DemoCertificate(issued=issued, key_file=key_file)


def _rrn_for(birth: dt.date, gender_female: bool, serial: str) -> str:
    century = birth.year // 100 * 100
    digit = {1900: ("1", "2"), 2000: ("3", "4")}[century][1 if gender_female else 0]
    return f"{birth:%y%m%d}-{digit}{serial}"


class Command(BaseCommand):
    help = (
        "Create the demo personas: an adult customer, a minor (18) who signed up alone and so is capped at "
        "1,000,000 won per transfer and 3,000,000 won a day, a corporate customer (each with an e-banking "
        "agreement and a security card), a customer who applied today and has not registered online yet, a "
        "dormant (suspended) customer with a joint certificate to sign the online release (files under "
        "VAR_DIR/demo-certificates/rest01/; the certificate authority is created first if missing), a teller "
        "and a branch manager, plus deposit products, notices and FAQ entries. Idempotent: existing rows are "
        "left as they are."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even with DEBUG off (only for a demo environment: it creates known passwords).",
        )
        parser.add_argument(
            "--certificate-dir",
            default=None,
            help="Where the demo certificates' files go (default: VAR_DIR/demo-certificates).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("seed_demo creates accounts with published passwords; refusing with DEBUG off.")
        certificate_base = Path(str(options["certificate_dir"])) if options.get("certificate_dir") else None
        self.certificate_dir = demo_certificate_dir(DEMO_CERTIFICATE_USER, certificate_base)
        self.certificate_note = ""
        self.new_certificate: DemoCertificate | None = None
        with use_context(RequestContext(ip=None, user_agent="", channel="command")):
            rows = self._seed()
            if self.new_certificate is not None:  # committed with the personas: now the files
                self.new_certificate.write(self.certificate_dir)
            # Development has no beat: fold the demo's cash legs into the branch balances and seal
            # the audit events now, so the admin shows real figures from the first page.
            internal_balances_roll_up(actor=system_actor("command:seed_demo", ["accounts.change_account"]))
            audit_seal()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for role, username, where, note in rows:
            self.stdout.write(f"  {role:<32} {username:<12} {where:<8} {note}")
        self.stdout.write(f"  Account password for every demo deposit account: {DEMO_ACCOUNT_PASSWORD}")
        self.stdout.write(
            f"  김하나's withdrawal account: {self.newcomer_account.number_display}; "
            f"최휴면's: {self.dormant_account.number_display}"
        )
        self._print_demo_certificate()
        self._print_security_cards()
        self._print_authenticators()

    def _print_demo_certificate(self) -> None:
        """Where 최휴면's certificate files are and their password: published demo data, like the cards."""
        self.stdout.write("")
        cert, key = self.certificate_dir / "signCert.der", self.certificate_dir / "signPri.key"
        if cert.exists() and key.exists():
            self.stdout.write(
                self.style.SUCCESS(
                    "Demo joint certificate of 최휴면 (rest01), to sign the online release at /security/release/ "
                    '(step 4: "Or load the certificate files"):'
                )
            )
            self.stdout.write(f"  {cert}")
            self.stdout.write(f"  {key}")
            self.stdout.write(f"  Certificate password: {DEMO_CERTIFICATE_PASSWORD}")
        else:
            self.stdout.write(
                self.style.WARNING(
                    self.certificate_note
                    or f"No demo certificate files for 최휴면 in {self.certificate_dir}. A certificate is only issued "
                    "while internet banking is in normal use, so it is made when the persona is first seeded: "
                    "start from an empty database (delete var/ and run make run) to get one."
                )
            )

    def _print_security_cards(self) -> None:
        """The demo customers' security cards (보안카드): published demo data, like the passwords."""
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                "Demo security cards (보안카드). A page asks for two code numbers: type the first two digits "
                "of the first code, then the last two digits of the second."
            )
        )
        for name, codes in self.cards:
            self.stdout.write(f"{name}:")
            for row in range(0, len(codes), 10):
                self.stdout.write(
                    "  " + "  ".join(f"{row + i + 1:02d}:{code}" for i, code in enumerate(codes[row : row + 10]))
                )

    def _print_authenticators(self) -> None:
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS("Staff admin (/admin/) sign-in also asks for the 6-digit code of an authenticator app.")
        )
        self.stdout.write(
            "Scan a QR code below (or type its secret) into any authenticator app, or print the current code with:"
        )
        self.stdout.write(f"  DEBUG=1 .venv/bin/python manage.py staff_otp_code {DEMO_STAFF[0]}")
        for username in DEMO_STAFF:
            device = TOTPDevice.objects.filter(user__username=username, confirmed=True).order_by("-pk").first()
            if device is None:  # the seeding above enrols every demo staff member
                continue
            self.stdout.write(f"{username}:")
            write_enrolment(self.stdout, device)

    @transaction.atomic
    def _seed(self) -> list[tuple[str, str, str, str]]:
        for spec in PRODUCTS:
            DepositProduct.objects.update_or_create(code=spec["code"], defaults=spec)
        for notice in NOTICES:
            Notice.objects.get_or_create(title_ko=notice["title_ko"], defaults=notice)
        for faq in FAQS:
            FaqEntry.objects.get_or_create(question_ko=faq["question_ko"], defaults=faq)
        demand = DepositProduct.objects.get(code="01")
        installment = DepositProduct.objects.get(code="03")

        teller = self._staff("teller01", "김창구", "Teller")
        self._staff("manager01", "박지점", "Branch manager")

        today = kst_today()
        adult_birth = dt.date(1988, 5, 17)
        # The minor turns 18 thirty days before today, so the persona stays a minor whenever it is loaded.
        minor_birth = today - dt.timedelta(days=30)
        minor_birth = minor_birth.replace(year=minor_birth.year - 18, day=min(minor_birth.day, 28))

        adult = self._customer(
            teller,
            kind=Customer.Kind.INDIVIDUAL,
            name="홍길동",
            phone="010-1234-5678",
            email="hong@example.com",
            rrn=_rrn_for(adult_birth, False, "234561"),
        )
        minor = self._customer(
            teller,
            kind=Customer.Kind.INDIVIDUAL,
            name="이민지",
            phone="010-2345-6789",
            email="minji@example.com",
            rrn=_rrn_for(minor_birth, True, "456712"),
        )
        corp_prefix = "220875123"
        corp = self._customer(
            teller,
            kind=Customer.Kind.CORPORATION,
            name="(주)다솜상사",
            phone="010-3456-7890",
            email="finance@dasomtrading.example",
            brn=format_brn(corp_prefix + str(brn_check_digit(corp_prefix))),
        )
        newcomer = self._customer(
            teller,
            kind=Customer.Kind.INDIVIDUAL,
            name="김하나",
            phone="010-4567-8901",
            email="hana@example.com",
            rrn=_rrn_for(dt.date(1995, 9, 3), True, "345678"),
        )
        dormant = self._customer(
            teller,
            kind=Customer.Kind.INDIVIDUAL,
            name="최휴면",
            phone="010-5678-9012",
            email="rest@example.com",
            rrn=_rrn_for(dt.date(1979, 1, 25), False, "567890"),
        )
        self._account(adult, demand, 5_000_000, teller)
        self._account(adult, installment, 300_000, teller)
        self._account(minor, demand, 200_000, teller)
        self._account(corp, demand, 120_000_000, teller)
        self._account(newcomer, demand, 1_000_000, teller)
        self._account(dormant, demand, 750_000, teller)
        # Every e-banking customer holds a security medium; a branch issues the card with the agreement.
        for customer in (adult, minor, corp, newcomer, dormant):
            self._security_card(customer, teller)
        self._agreement(adult, teller, "hong01")
        self._agreement(minor, teller, "minji01")
        self._agreement(corp, teller, "acme01", documents=BUSINESS_DOCUMENTS)
        # 김하나 applied at the branch today and registers online herself (/ebanking/register/).
        self._agreement(newcomer, teller, None)
        self._agreement(dormant, teller, DEMO_CERTIFICATE_USER)
        # Before the dormancy: a certificate is issued only while internet banking is in normal use.
        self._demo_certificate(dormant)
        self._make_dormant(dormant)
        self._financial_certificate(adult)
        self._financial_certificate_elsewhere(minor)
        self.cards = [(customer.name, self._card_codes(customer)) for customer in (newcomer, dormant, adult)]
        self.newcomer_account = newcomer.accounts.order_by("pk").get()
        self.dormant_account = dormant.accounts.order_by("pk").get()
        return [
            ("Adult customer (internet banking)", "hong01", "/login/", "홍길동, 2 accounts"),
            (
                "Adult, financial certificate",
                "(none)",
                "/certificates/financial/signin/",
                f"홍길동, 010-1234-5678, PIN {DEMO_FINANCIAL_PIN}",
            ),
            ("Minor who signed up alone", "minji01", "/login/", "이민지, age 18, transfer cap"),
            (
                "Minor, financial certificate",
                "minji01",
                "/certificates/",
                f"issued at {OTHER_INSTITUTION[2]}; register it here (PIN {DEMO_FINANCIAL_PIN})",
            ),
            ("Corporate customer", "acme01", "/login/", "(주)다솜상사"),
            ("Applied, not registered yet", "(choose)", "/ebanking/register/", "김하나, 950903-2345678"),
            ("Dormant, suspended", "rest01", "/security/release/", "최휴면, 790125-1567890"),
            ("Teller (staff)", "teller01", "/admin/", "opens accounts, takes cash, takes e-banking applications"),
            ("Branch manager (staff)", "manager01", "/admin/", "approves staff requests (책임자 승인)"),
        ]

    def _staff(self, username: str, name: str, group: str) -> User:
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": name, "is_staff": True})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=group))
        # Only when missing: re-running must never change a key an authenticator app already holds.
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            staff_otp_enrol(
                user=user, actor=STAFF_OTP_ACTOR, reason="demo persona (seed_demo)", key=demo_totp_key(username)
            )
        return user

    def _customer(self, teller: User, **fields: str) -> Customer:
        """The persona's customer record, found again by its number on a re-run."""
        if "rrn" in fields:
            existing = Customer.objects.filter(rrn_index=rrn_blind_index(normalise_rrn(fields["rrn"]))).first()
        else:
            existing = Customer.objects.filter(brn=fields["brn"].replace("-", "")).first()
        if existing is not None:
            return existing
        return services.customer_create(actor=teller, **fields)  # type: ignore[arg-type]

    def _security_card(self, customer: Customer, teller: User) -> None:
        if not SecurityCard.objects.filter(customer=customer, status__in=SecurityCard.LIVE_STATUSES).exists():
            security_card_issue(customer=customer, actor=teller)

    def _card_codes(self, customer: Customer) -> tuple[str, ...]:
        card = SecurityCard.objects.get(customer=customer, status__in=SecurityCard.LIVE_STATUSES)
        return security_card_codes(card)

    def _agreement(
        self, customer: Customer, teller: User, username: str | None, documents: list[Document] = PERSONAL_DOCUMENTS
    ) -> None:
        """Apply at the branch and, for ``username``, register online as the customer would."""
        if Agreement.objects.filter(customer=customer).exists() or User.objects.filter(customer=customer).exists():
            return  # already seeded (older demo databases have logins without an agreement: left as they are)
        agreement = services.agreement_apply(
            customer=customer, withdrawal_accounts=list(customer.accounts.all()), documents=documents, actor=teller
        )
        if username is not None:
            services.agreement_register_online(
                agreement=agreement,
                medium_verified=True,
                username=username,
                password=DEMO_PASSWORD,
                actor=services.agreement_web_actor(),
            )

    def _demo_certificate(self, customer: Customer) -> None:
        """Issue the persona's certificate while its agreement is still active, that is on the first run
        (``handle`` writes its files once the seeding has committed); later runs find the agreement
        suspended and leave everything as it is."""
        agreement = Agreement.objects.filter(customer=customer, state=Agreement.State.ACTIVE).first()
        if agreement is None:
            return
        try:
            certcenter_services.ca_init(actor=CA_ACTOR)
            self.new_certificate = demo_certificate_issue(
                agreement=agreement,
                account=customer.accounts.order_by("pk").first(),  # type: ignore[arg-type]
                password=DEMO_CERTIFICATE_PASSWORD,
                actor=certcenter_services.certificate_web_actor(),
            )
        except ValidationError as refusal:
            # The personas are still useful without it; say why there is none.
            self.certificate_note = f"No demo certificate for 최휴면: {' '.join(refusal.messages)}"

    def _financial_certificate(self, customer: Customer) -> None:
        """A financial certificate issued here, once (a later run finds it in use)."""
        from certcenter.services.financial import current_financial_certificate, financial_issue

        agreement = Agreement.objects.filter(customer=customer, state=Agreement.State.ACTIVE).first()
        if agreement is None or current_financial_certificate(customer.pk) is not None:
            return
        certcenter_services.ca_init(actor=CA_ACTOR)
        financial_issue(
            agreement=agreement,
            pin=DEMO_FINANCIAL_PIN,
            pin_again=DEMO_FINANCIAL_PIN,
            medium_verified=True,
            actor=certcenter_services.certificate_web_actor(),
        )

    def _financial_certificate_elsewhere(self, customer: Customer) -> None:
        """Another institution the cloud serves: its CA (made here, its key thrown away: demo data),
        trusted by this bank, and a financial certificate it issued for ``customer``, not yet
        registered here. Once: a later run finds the CA trusted."""
        from certcenter import ca
        from certcenter.cloud.api import financial_cloud
        from certcenter.models import TrustedAuthority
        from certcenter.services import external

        code, name_ko, name_en = OTHER_INSTITUTION
        if TrustedAuthority.objects.filter(name__contains=name_en).exists():
            return
        now = timezone.now()
        root = ca.new_root_ca(common_name=f"{name_en} Root CA", organization=name_en, now=now)
        issuing = ca.new_issuing_ca(
            root=root,
            common_name=f"{name_en} Financial CA",
            organization=name_en,
            urls=ca.PkiUrls(
                crl="https://pki.hanul-securities.example/crl",
                ocsp="https://pki.hanul-securities.example/ocsp",
                ca_issuer="https://pki.hanul-securities.example/ca.der",
            ),
            now=now,
        )
        external.trusted_authority_add(
            certificate=ca.certificate_pem(issuing.certificate),
            actor=external.trust_command_actor("seed_demo"),
            now=now,
        )
        cloud = financial_cloud()
        enrolment = cloud.enroll(
            institution=code,
            holder_name=customer.name,
            phone=customer.phone,
            birth_date=customer.birth_date,
            pin=DEMO_FINANCIAL_PIN,
            now=now,
        )
        certificate = ca.issue_customer_certificate(
            issuer=issuing,
            public_key=serialization.load_der_public_key(enrolment.public_key_der),
            subject_common_name=f"{customer.name} ({name_ko})",
            serial=secrets.randbits(159) | (1 << 158),
            kind=ca.CertificateKind.FINANCIAL,
            identity=None,
            urls=ca.PkiUrls(
                crl="https://pki.hanul-securities.example/crl",
                ocsp="https://pki.hanul-securities.example/ocsp",
                ca_issuer="https://pki.hanul-securities.example/ca.der",
            ),
            now=now,
            years=3,
        )
        cloud.attach_certificate(cloud_id=enrolment.cloud_id, certificate_der=ca.certificate_der(certificate), now=now)

    def _make_dormant(self, customer: Customer) -> None:
        """Backdate the last use by 13 months and run the dormancy job, which suspends it (and texts the customer)."""
        agreement = Agreement.objects.get(customer=customer, state__in=Agreement.OPEN_STATES)
        if agreement.state != Agreement.State.ACTIVE or agreement.last_used_at is None:
            return
        Agreement.objects.filter(pk=agreement.pk).update(last_used_at=agreement.last_used_at - dt.timedelta(days=400))
        services.agreements_dormancy_sweep(actor=DORMANCY_ACTOR)

    def _account(self, customer: Customer, product: DepositProduct, amount: int, teller: User) -> None:
        if customer.accounts.filter(product=product).exists():
            return
        services.account_open(
            customer=customer, product=product, password=DEMO_ACCOUNT_PASSWORD, opening_deposit=amount, actor=teller
        )
