"""Joint certificates: issue with its fee, renewal inside the window, reissue after additional
authentication, and revocation by the customer or through an approved staff request.

The test plays the browser with ``cryptography``: an RSA-2048 key and a SHA-256 CSR, as WebCrypto
makes them. Time is fixed with ``time_machine`` (the CA is made inside the same clock).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts import services as accounts_services
from accounts.models import Account, Agreement, Customer, Journal, LedgerEntry, StaffRequest, User
from accounts.services import agreement_online as online
from accounts.services import agreements as agreement_services
from accounts.services.ledger import fee_income_account
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from certcenter import ca, rules, services
from certcenter.models import Certificate, CertificateAuthority, CrlState
from certcenter.services import issuance
from tests.certcenter.test_pki_endpoints import CA_ACTOR
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ca.KST)  # certificates issued now expire 2027-03-02 23:59:59 KST
EXPIRY = dt.datetime(2027, 3, 2, 23, 59, 59, tzinfo=ca.KST)
OPENS = dt.datetime(2027, 1, 1, 0, 0, tzinfo=ca.KST)
WEB = agreement_services.agreement_web_actor()
CERT_WEB = services.certificate_web_actor()
LOGIN_PASSWORD = "Dasom-bank-2026!"
R = bytes(range(20))


# --- the browser -------------------------------------------------------------------------------------------


@functools.cache
def browser_key(n: int = 0, bits: int = 2048) -> rsa.RSAPrivateKey:
    del n  # one cached key per (n, bits)
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def csr_for(key: rsa.RSAPrivateKey) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "browser")]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def tampered_csr() -> bytes:
    der = x509.load_pem_x509_csr(csr_for(browser_key())).public_bytes(serialization.Encoding.DER)
    return der[:-1] + bytes([der[-1] ^ 0x01])  # the last signature byte


# --- personas and setup --------------------------------------------------------------------------------


def _register(
    customer: Customer, accounts: list[Account], username: str, teller: User, documents: list[str]
) -> Agreement:
    agreement_services.agreement_apply(
        customer=customer, withdrawal_accounts=accounts, documents=documents, actor=teller
    )
    agreement = online.agreement_identify(
        purpose="register",
        name=customer.name,
        id_number=customer.brn or accounts_services.customer_rrn(customer),
        account_number=accounts[0].number,
        account_password=ACCOUNT_PASSWORD,
        actor=WEB,
    )
    return accounts_services.agreement_register_online(
        agreement=agreement, medium_verified=True, username=username, password=LOGIN_PASSWORD, actor=WEB
    )


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pki(clock):  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR)


@pytest.fixture
def agreement(pki, alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return _register(alice, [alice_account], "alice2026", teller, ["resident_card"])


@pytest.fixture
def alice_user(agreement) -> User:  # type: ignore[no-untyped-def]
    return agreement.user


@pytest.fixture
def bob_agreement(pki, teller, demand_product) -> Agreement:  # type: ignore[no-untyped-def]
    bob = accounts_services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-3333-4444", rrn=rrn_for_age(40, serial="156789"),
        actor=teller,
    )  # fmt: skip
    account = accounts_services.account_open(
        customer=bob, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=50_000, actor=teller
    )
    return _register(bob, [account], "bob2026", teller, ["resident_card"])


def issue(agreement: Agreement, account: Account, kind: str = "general", **overrides):  # type: ignore[no-untyped-def]
    arguments: dict[str, Any] = {
        "agreement": agreement,
        "withdrawal_account": account,
        "kind": kind,
        "storage": "file",
        "csr": csr_for(browser_key()),
        "identity_random": R,
        "medium_verified": True,
        "actor": CERT_WEB,
    } | overrides
    return services.certificate_issue(**arguments)


def counts() -> dict[str, int]:
    return {
        "certificates": Certificate.objects.count(),
        "journals": Journal.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "audit": AuditEvent.objects.count(),
        "notifications": Notification.objects.count(),
    }


def crl_serials() -> set[int]:
    crl = x509.load_der_x509_crl(bytes(CrlState.objects.get().crl_der))
    return {entry.serial_number for entry in crl}


def chain() -> tuple[x509.Certificate, x509.Certificate]:
    rows = {row.role: row for row in CertificateAuthority.objects.filter(is_active=True)}
    return (
        ca.load_certificate(rows["issuing"].certificate_pem.encode()),
        ca.load_certificate(rows["root"].certificate_pem.encode()),
    )


def refusal(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    with translation.override("en"):
        return " ".join(exc.value.messages)


# --- issue: fee and ledger -----------------------------------------------------------------------------


def test_a_general_certificate_charges_4400_from_the_withdrawal_account_to_fee_income(agreement, alice_account):
    """Customer −4,400, the branch's fee income +4,400, one balanced fee journal: the receipt."""
    issued = issue(agreement, alice_account, "general")

    assert issued.fee == 4_400
    journal = issued.fee_journal
    assert journal is not None and journal.kind == Journal.Kind.FEE
    legs = {entry.account_id: entry for entry in journal.entries.all()}
    income = fee_income_account(alice_account.branch)
    assert set(legs) == {alice_account.pk, income.pk}
    assert legs[alice_account.pk].amount == -4_400
    assert legs[alice_account.pk].balance_after == 995_600
    assert legs[income.pk].amount == 4_400
    assert sum(entry.amount for entry in legs.values()) == 0
    alice_account.refresh_from_db()
    assert alice_account.balance == 995_600


def test_a_restricted_certificate_is_free_and_posts_no_journal(agreement, alice_account):
    before = counts()

    issued = issue(agreement, alice_account, "restricted")

    assert issued.fee == 0 and issued.fee_journal is None
    after = counts()
    assert (after["journals"], after["entries"]) == (before["journals"], before["entries"])
    assert after["certificates"] == before["certificates"] + 1
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000


def test_e_tax_costs_4400(agreement, alice_account):
    assert issue(agreement, alice_account, "e_tax").fee == 4_400


def test_a_corporation_pays_110000_for_the_corporate_certificate(pki, acme, demand_product, teller):
    account = accounts_services.account_open(
        customer=acme, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=200_000, actor=teller
    )
    documents = ["resident_card", "business_registration", "representative_id", "bankbook", "bankbook_seal"]
    agreement = _register(acme, [account], "acme2026", teller, documents)

    issued = issue(agreement, account, "corporate")

    assert issued.fee == 110_000
    account.refresh_from_db()
    assert account.balance == 90_000
    # The identity hash binds the business registration number for a corporation.
    assert ca.identity_matches(ca.load_certificate(issued.der), acme.brn, R)


@pytest.mark.parametrize("kind", ["corporate"])
def test_an_individual_cannot_take_the_corporate_kind(agreement, alice_account, kind):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(agreement, alice_account, kind)
    assert exc.value.code == "kind_not_allowed"
    assert counts() == before


def test_not_enough_money_is_refused_and_nothing_is_written(agreement, alice_account, teller):
    accounts_services.cash_withdrawal(account=alice_account, amount=996_000, password=ACCOUNT_PASSWORD, actor=teller)
    alice_account.refresh_from_db()
    assert alice_account.balance == 4_000
    before = counts()

    with pytest.raises(ValidationError) as exc:
        issue(agreement, alice_account, "general")

    assert exc.value.code == "insufficient_funds"
    assert "4,400" in refusal(exc)
    assert counts() == before
    alice_account.refresh_from_db()
    assert alice_account.balance == 4_000


# --- issue: the certificate ----------------------------------------------------------------------------


def test_the_issued_certificate_chains_to_our_ca_and_carries_the_identity_hash(agreement, alice, alice_account):
    issued = issue(agreement, alice_account, "general", storage="browser")

    certificate = ca.load_certificate(issued.der)
    issuing, root = chain()
    ca.verify_chain(certificate, issuing=issuing, root=root, now=T0)
    assert certificate.public_key() == browser_key().public_key()
    assert ca.certificate_kind(certificate) is ca.CertificateKind.GENERAL
    assert ca.identity_matches(certificate, accounts_services.customer_rrn(alice), R)
    assert not ca.identity_matches(certificate, accounts_services.customer_rrn(alice), bytes(20))
    row = issued.certificate
    assert (row.customer_id, row.kind, row.storage, row.status) == (alice.pk, "general", "browser", "valid")
    assert row.serial_number == certificate.serial_number
    assert row.not_after == EXPIRY
    assert bytes(row.certificate_der) == issued.der


def test_the_issue_is_audited_and_texted_to_the_customer(agreement, alice, alice_account):
    issued = issue(agreement, alice_account, "general")

    event = AuditEvent.objects.get(action="certificate.issue")
    assert event.customer_ref == alice.pk
    assert event.details["serial"] == issued.certificate.serial
    assert (event.details["kind"], event.details["storage"], event.details["fee"]) == ("general", "file", 4_400)
    sms = Notification.objects.get(purpose="certificate_issue")
    assert sms.to == alice.phone


@pytest.mark.parametrize(
    ("csr", "code"),
    [
        (lambda: csr_for(browser_key(0, 1024)), "csr_key_size"),
        (tampered_csr, "csr_bad_signature"),
        (lambda: b"not a request", "csr_malformed"),
    ],
)
def test_a_bad_csr_is_refused_with_no_charge(agreement, alice_account, csr, code):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(agreement, alice_account, "general", csr=csr())
    assert exc.value.code == code
    with translation.override("en"):
        expected = str(issuance.ERR_CSR[code.removeprefix("csr_")])
    assert refusal(exc) == expected
    assert counts() == before


def test_an_unverified_security_medium_is_refused(agreement, alice_account):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(agreement, alice_account, medium_verified=False)
    assert exc.value.code == "medium_not_verified"
    assert counts() == before


def test_an_account_that_is_not_a_withdrawal_account_is_refused(agreement, alice, demand_product, teller):
    other = accounts_services.account_open(
        customer=alice, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=100_000, actor=teller
    )
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(agreement, other)
    assert exc.value.code == "not_withdrawal_account"
    assert counts() == before


def test_another_customers_account_is_refused(agreement, bob_agreement):
    bobs = bob_agreement.withdrawal_accounts.get()
    with pytest.raises(ValidationError) as exc:
        issue(agreement, bobs)
    assert exc.value.code == "not_withdrawal_account"


def test_a_suspended_agreement_is_refused(agreement, alice_account, alice_user):
    agreement_services.agreement_suspend(agreement=agreement, reason="customer_request", actor=alice_user)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        issue(agreement, alice_account)
    assert exc.value.code == "agreement_not_active"
    assert counts() == before


@pytest.mark.parametrize("size", [15, 65])
def test_an_identity_random_value_outside_16_to_64_bytes_is_refused(agreement, alice_account, size):
    with pytest.raises(ValidationError) as exc:
        issue(agreement, alice_account, identity_random=bytes(size))
    assert exc.value.code == "identity_random"


@pytest.mark.parametrize("size", [16, 64])
def test_identity_random_values_of_16_and_64_bytes_are_accepted(agreement, alice_account, size):
    issued = issue(agreement, alice_account, "restricted", identity_random=bytes(range(size)))
    certificate = ca.load_certificate(issued.der)
    assert ca.identity_matches(certificate, accounts_services.customer_rrn(agreement.customer), bytes(range(size)))


def test_staff_and_other_customers_cannot_issue(agreement, alice_account, teller, bob_agreement):
    with pytest.raises(PermissionDenied):
        issue(agreement, alice_account, actor=teller)
    with pytest.raises(PermissionDenied):
        issue(agreement, alice_account, actor=bob_agreement.user)


def test_the_customers_own_user_may_issue(agreement, alice_account, alice_user):
    assert issue(agreement, alice_account, "restricted", actor=alice_user).certificate.status == "valid"


# --- renewal -------------------------------------------------------------------------------------------


def renew(certificate: Certificate, actor: User, **overrides):  # type: ignore[no-untyped-def]
    arguments: dict[str, Any] = {
        "certificate": certificate,
        "csr": csr_for(browser_key(1)),
        "identity_random": R,
        "actor": actor,
    }
    return services.certificate_renew(**(arguments | overrides))


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 12, 31, 12, 0, tzinfo=ca.KST),  # 61 days before the expiry day
        OPENS - dt.timedelta(microseconds=1),
        dt.datetime(2027, 3, 3, 0, 0, tzinfo=ca.KST),  # the day after the expiry day
    ],
)
def test_renewal_outside_the_window_is_refused_naming_the_window(agreement, alice_account, alice_user, clock, moment):
    old = issue(agreement, alice_account).certificate
    clock.move_to(moment)
    before = counts()

    with pytest.raises(ValidationError) as exc:
        renew(old, alice_user)

    assert exc.value.code == "renewal_window"
    assert "2027-01-01" in refusal(exc) and "2027-03-02" in refusal(exc)
    assert counts() == before
    old.refresh_from_db()
    assert old.status == "valid"


@pytest.mark.parametrize("moment", [OPENS, EXPIRY], ids=["60 days before at 00:00 KST", "expiry day 23:59:59"])
def test_renewal_inside_the_window_is_accepted(
    agreement, alice_account, alice_user, clock, moment, django_capture_on_commit_callbacks
):
    old = issue(agreement, alice_account).certificate
    clock.move_to(moment)

    with django_capture_on_commit_callbacks(execute=True):
        renewed = renew(old, alice_user)

    new = renewed.certificate
    assert (new.kind, new.storage, new.status) == (old.kind, old.storage, "valid")
    assert new.serial != old.serial
    assert renewed.fee == 4_400
    old.refresh_from_db()
    assert old.status == "revoked"
    assert old.revocation_reason == Certificate.RevocationReason.SUPERSEDED
    assert old.revoked_at == moment
    assert old.serial_number in crl_serials()
    assert new.serial_number not in crl_serials()
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000 - 2 * 4_400
    assert AuditEvent.objects.get(action="certificate.renew").details["renews"] == old.serial


def test_only_the_certificates_own_customer_may_renew(agreement, alice_account, teller, bob_agreement, clock):
    old = issue(agreement, alice_account).certificate
    clock.move_to(OPENS)
    for stranger in (teller, bob_agreement.user, CERT_WEB):
        with pytest.raises(PermissionDenied):
            renew(old, stranger)
    old.refresh_from_db()
    assert old.status == "valid"


def test_a_revoked_certificate_cannot_be_renewed(agreement, alice_account, alice_user, clock):
    old = issue(agreement, alice_account).certificate
    services.certificate_revoke(certificate=old, reason="cessation_of_operation", actor=alice_user)
    clock.move_to(OPENS)
    with pytest.raises(ValidationError) as exc:
        renew(old, alice_user)
    assert exc.value.code == "not_renewable"


def test_renewal_without_money_keeps_the_old_certificate(agreement, alice_account, alice_user, clock, teller):
    old = issue(agreement, alice_account).certificate
    clock.move_to(OPENS)
    accounts_services.cash_withdrawal(account=alice_account, amount=995_000, password=ACCOUNT_PASSWORD, actor=teller)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        renew(old, alice_user)
    assert exc.value.code == "insufficient_funds"
    assert counts() == before
    old.refresh_from_db()
    assert old.status == "valid"


# --- reissue -------------------------------------------------------------------------------------------


def reissue(agreement: Agreement, account: Account, spend, reason: str = "lost", **overrides):  # type: ignore[no-untyped-def]
    arguments: dict[str, Any] = {
        "agreement": agreement,
        "withdrawal_account": account,
        "kind": "general",
        "storage": "file",
        "csr": csr_for(browser_key(2)),
        "identity_random": R,
        "medium_verified": True,
        "additional_auth": spend,
        "reason": reason,
        "actor": CERT_WEB,
    } | overrides
    return services.certificate_reissue(**arguments)


class Spend:
    """Stands in for ``otp.services.additional_auth_use`` bound by the page: counts its calls."""

    def __init__(self, result: object | None) -> None:
        self.result, self.calls = result, 0

    def __call__(self) -> object | None:
        self.calls += 1
        return self.result


def test_reissue_revokes_all_current_certificates_then_issues(
    agreement, alice_account, django_capture_on_commit_callbacks
):
    first = issue(agreement, alice_account, "restricted").certificate
    second = issue(agreement, alice_account, "general").certificate
    spend = Spend(object())

    with django_capture_on_commit_callbacks(execute=True):
        issued = reissue(agreement, alice_account, spend, reason="lost")

    assert spend.calls == 1
    for old in (first, second):
        old.refresh_from_db()
        assert (old.status, old.revocation_reason) == ("revoked", "key_compromise")
    assert {first.serial_number, second.serial_number} <= crl_serials()
    assert issued.certificate.status == "valid"
    assert Certificate.objects.filter(customer=agreement.customer, status="valid").get() == issued.certificate
    event = AuditEvent.objects.get(action="certificate.reissue")
    assert sorted(event.details["revoked"]) == sorted([first.serial, second.serial])


@pytest.mark.parametrize("reason", ["forgotten_password", "expired"])
def test_reissue_for_a_forgotten_password_supersedes(agreement, alice_account, reason):
    old = issue(agreement, alice_account, "restricted").certificate
    reissue(agreement, alice_account, Spend(object()), reason=reason)
    old.refresh_from_db()
    assert old.revocation_reason == "superseded"


def test_reissue_without_a_spent_verification_is_refused_and_nothing_revoked(agreement, alice_account):
    old = issue(agreement, alice_account, "general").certificate
    before = counts()

    with pytest.raises(ValidationError) as exc:
        reissue(agreement, alice_account, Spend(None))

    assert exc.value.code == "additional_auth_required"
    assert counts() == before
    old.refresh_from_db()
    assert old.status == "valid"


def test_reissue_with_the_real_spend_and_no_verification_is_refused(agreement, alice_account):
    from otp.services import additional_auth_use

    old = issue(agreement, alice_account, "general").certificate

    def spend() -> object | None:
        return additional_auth_use(
            customer=agreement.customer, purpose=services.ADDITIONAL_AUTH_PURPOSE, actor=CERT_WEB
        )

    with pytest.raises(ValidationError) as exc:
        reissue(agreement, alice_account, spend)
    assert exc.value.code == "additional_auth_required"
    old.refresh_from_db()
    assert old.status == "valid"


def test_a_reissue_refused_for_want_of_money_revokes_nothing(agreement, alice_account, teller):
    old = issue(agreement, alice_account, "restricted").certificate
    accounts_services.cash_withdrawal(account=alice_account, amount=999_000, password=ACCOUNT_PASSWORD, actor=teller)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        reissue(agreement, alice_account, Spend(object()))
    assert exc.value.code == "insufficient_funds"
    assert counts() == before
    old.refresh_from_db()
    assert old.status == "valid"


def test_an_unknown_reissue_reason_is_refused(agreement, alice_account):
    spend = Spend(object())
    with pytest.raises(ValidationError) as exc:
        reissue(agreement, alice_account, spend, reason="bored")
    assert exc.value.code == "reissue_reason"
    assert spend.calls == 0


# --- revocation ----------------------------------------------------------------------------------------


def test_the_customer_revokes_their_own_certificate(
    agreement, alice, alice_account, alice_user, django_capture_on_commit_callbacks
):
    certificate = issue(agreement, alice_account).certificate

    with django_capture_on_commit_callbacks(execute=True):
        services.certificate_revoke(certificate=certificate, reason="key_compromise", actor=alice_user)

    certificate.refresh_from_db()
    assert (certificate.status, certificate.revocation_reason, certificate.revoked_at) == (
        "revoked",
        "key_compromise",
        T0,
    )
    assert certificate.serial_number in crl_serials()
    event = AuditEvent.objects.get(action="certificate.revoke")
    assert (event.customer_ref, event.details["by"]) == (alice.pk, "customer")
    assert Notification.objects.filter(purpose="certificate_revoke", to=alice.phone).count() == 1


def test_a_revoked_certificate_cannot_be_revoked_again(agreement, alice_account, alice_user):
    certificate = issue(agreement, alice_account).certificate
    services.certificate_revoke(certificate=certificate, reason="unspecified", actor=alice_user)
    with pytest.raises(ValidationError) as exc:
        services.certificate_revoke(certificate=certificate, reason="unspecified", actor=alice_user)
    assert exc.value.code == "not_revocable"


def test_superseded_is_not_a_reason_the_customer_gives(agreement, alice_account, alice_user):
    certificate = issue(agreement, alice_account).certificate
    with pytest.raises(ValidationError) as exc:
        services.certificate_revoke(certificate=certificate, reason="superseded", actor=alice_user)
    assert exc.value.code == "revoke_reason"


def test_a_customer_cannot_revoke_another_customers_certificate(agreement, alice_account, bob_agreement):
    certificate = issue(agreement, alice_account).certificate
    with pytest.raises(PermissionDenied):
        services.certificate_revoke(certificate=certificate, reason="unspecified", actor=bob_agreement.user)
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def test_staff_cannot_revoke_directly(agreement, alice_account, teller, manager):
    certificate = issue(agreement, alice_account).certificate
    for staff in (teller, manager):
        with pytest.raises(PermissionDenied):
            services.certificate_revoke(certificate=certificate, reason="key_compromise", actor=staff)
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def _revoke_request(customer: Customer, certificate: Certificate, actor: User) -> StaffRequest:
    return accounts_services.staff_request_create(
        kind=StaffRequest.Kind.CERTIFICATE_REVOKE,
        customer=customer,
        payload={"certificate": certificate.pk, "reason": "key_compromise"},
        reason="Customer reports the USB stick stolen",
        actor=actor,
    )


def test_staff_revoke_through_a_request_the_manager_approves(
    agreement, alice, alice_account, teller, manager, django_capture_on_commit_callbacks
):
    certificate = issue(agreement, alice_account).certificate
    request = _revoke_request(alice, certificate, teller)
    certificate.refresh_from_db()
    assert certificate.status == "valid"  # recording changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        done = accounts_services.staff_request_approve(request=request, actor=manager)

    assert done.state == StaffRequest.State.EXECUTED
    certificate.refresh_from_db()
    assert (certificate.status, certificate.revocation_reason) == ("revoked", "key_compromise")
    assert certificate.serial_number in crl_serials()
    event = AuditEvent.objects.get(action="certificate.revoke")
    assert event.details["staff_request"] == request.pk
    assert event.actor_id == manager.pk


def test_nobody_approves_their_own_revocation_request(agreement, alice, alice_account, teller, manager):
    certificate = issue(agreement, alice_account).certificate
    by_teller = _revoke_request(alice, certificate, teller)
    with pytest.raises(PermissionDenied):
        accounts_services.staff_request_approve(request=by_teller, actor=teller)
    accounts_services.staff_request_cancel(request=by_teller, actor=teller)
    by_manager = _revoke_request(alice, certificate, manager)
    with pytest.raises(PermissionDenied):
        accounts_services.staff_request_approve(request=by_manager, actor=manager)
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def test_a_revocation_request_for_a_certificate_not_valid_is_refused(
    agreement, alice, alice_account, alice_user, teller
):
    certificate = issue(agreement, alice_account).certificate
    services.certificate_revoke(certificate=certificate, reason="unspecified", actor=alice_user)
    with pytest.raises(ValidationError) as exc:
        _revoke_request(alice, certificate, teller)
    assert exc.value.code == "not_revocable"


def test_a_revocation_request_for_another_customers_certificate_is_refused(
    agreement, alice_account, bob_agreement, teller
):
    certificate = issue(agreement, alice_account).certificate
    with pytest.raises(ValidationError) as exc:
        _revoke_request(bob_agreement.customer, certificate, teller)
    assert exc.value.code == "not_revocable"


def test_a_certificate_revoked_after_the_request_is_refused_at_approval(
    agreement, alice, alice_account, alice_user, teller, manager
):
    certificate = issue(agreement, alice_account).certificate
    request = _revoke_request(alice, certificate, teller)
    services.certificate_revoke(certificate=certificate, reason="unspecified", actor=alice_user)
    with pytest.raises(ValidationError) as exc:
        accounts_services.staff_request_approve(request=request, actor=manager)
    assert exc.value.code == "certificate_changed"
    request.refresh_from_db()
    assert request.state == StaffRequest.State.PENDING


def test_only_branch_managers_hold_the_revocation_approval_right(db):
    def codes(name: str) -> set[str]:
        group = Group.objects.get(name=name)
        return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}

    assert services.STAFF_REVOKE_PERMISSION in codes("Branch manager")
    assert services.STAFF_REVOKE_PERMISSION not in codes("Teller")


def test_the_renewal_window_used_is_the_rules_one():
    assert rules.renewal_opens_at(EXPIRY) == OPENS
