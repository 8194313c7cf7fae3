"""seed_demo: the personas a newcomer logs in with, loaded idempotently and only in development."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Account, Agreement, Customer, User
from accounts.selectors import ledger_problems
from bankportal.audit.models import AuditEvent
from bankportal.audit.verification import audit_verify
from bankportal.content.models import FaqEntry, Notice
from bankportal.timeutil import kst_today
from otp.models import SecurityCard

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Customer.objects.count(),
        Account.objects.count(),
        AuditEvent.objects.count(),
        Notice.objects.count(),
        FaqEntry.objects.count(),
    )


def test_seed_demo_creates_the_personas_and_prints_their_logins(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    for username in ("hong01", "minji01", "acme01", "teller01", "manager01"):
        assert username in printed
        assert User.objects.filter(username=username).exists()
    minor = User.objects.get(username="minji01").customer
    assert minor.is_minor(kst_today()) and minor.solo_minor_cap
    assert User.objects.get(username="acme01").customer.kind == Customer.Kind.CORPORATION
    assert User.objects.get(username="teller01").groups.filter(name="Teller").exists()
    assert User.objects.get(username="manager01").groups.filter(name="Branch manager").exists()
    assert sorted(Account.objects.filter(holder__users__username="hong01").values_list("balance", flat=True)) == [
        300_000,
        5_000_000,
    ]
    assert ledger_problems() == [] and audit_verify().ok


def test_seed_demo_gives_each_persona_an_agreement_in_the_state_its_page_needs(settings):
    """Registered personas log in; 김하나 can register online today; 최휴면 was suspended by the dormancy job."""
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    for username in ("hong01", "minji01", "acme01"):
        agreement = Agreement.objects.get(user__username=username)
        assert agreement.state == Agreement.State.ACTIVE
        assert SecurityCard.objects.filter(customer=agreement.customer, status=SecurityCard.Status.ACTIVE).exists()
    assert Agreement.objects.get(user__username="minji01").minor_signed_up_alone
    newcomer = Agreement.objects.get(customer__name="김하나")
    assert newcomer.state == Agreement.State.APPLIED and newcomer.user is None
    assert newcomer.registration_deadline > timezone.now()
    dormant = Agreement.objects.get(user__username="rest01")
    assert (dormant.state, dormant.suspension_reason) == (Agreement.State.SUSPENDED, "dormant")
    assert AuditEvent.objects.filter(action__startswith="agreement.", object_id=str(dormant.pk)).exists()
    printed = out.getvalue()
    assert "/ebanking/register/" in printed and "/security/release/" in printed
    assert printed.count("01:") >= 3  # the demo security cards' first codes


def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    first = _counts()
    call_command("seed_demo", stdout=io.StringIO())
    assert _counts() == first


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refusing with DEBUG off"):
        call_command("seed_demo", stdout=io.StringIO())
    assert User.objects.count() == 0
