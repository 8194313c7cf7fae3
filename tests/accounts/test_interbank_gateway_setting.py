# ruff: noqa: F811 - the clock and alice_bank fixtures are imported from tests/accounts/test_clearing.py
"""No interbank simulator in production by accident: without DEBUG there is no gateway unless one
is configured; with none, transfers to other banks are refused with a message and the clearing
job sends nothing and leaves the queue as it is; `check --deploy` warns about the simulator."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core import checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import translation

from accounts import services
from accounts.checks import SIMULATED_GATEWAY, interbank_simulator_in_production
from accounts.limits import Tier
from accounts.models import Account, Journal, Transfer
from accounts.services import transfers as svc
from accounts.services.clearing import NO_GATEWAY, interbank_clearing_run, interbank_gateway
from accounts.tasks import interbank_clearing_task
from bankportal.audit.models import AuditEvent
from otp.services import security_card_issue
from tests.accounts.test_clearing import JOB, alice_bank, clock, out  # noqa: F401 - fixtures
from tests.accounts.test_transfer_pages import TRANSFER, details, open_form
from tests.accounts.transfer_helpers import Banker, new_key, signer
from tests.bankportal.test_settings import PRODUCTION, ROOT
from tests.conftest import ACCOUNT_PASSWORD, banking_login

pytestmark = pytest.mark.django_db


def _settings_value(name: str, **env: str) -> str:
    """``name`` as the settings module reads it in a fresh interpreter with exactly this environment."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    clean.update(env)
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", f"import bankportal.settings as s; print(repr(s.{name}))"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def english(error: ValidationError) -> str:
    with translation.override("en"):
        return " ".join(error.messages)


# --- the setting -------------------------------------------------------------------------------------


def test_without_debug_the_default_is_no_gateway() -> None:
    assert "INTERBANK_GATEWAY" not in PRODUCTION
    assert _settings_value("INTERBANK_GATEWAY", **PRODUCTION) == "''"


def test_with_debug_the_default_is_the_simulator_and_a_set_value_is_kept() -> None:
    assert _settings_value("INTERBANK_GATEWAY", DEBUG="1") == repr(SIMULATED_GATEWAY)
    assert _settings_value("INTERBANK_GATEWAY", **PRODUCTION, INTERBANK_GATEWAY="bank.gateways.Kftc") == repr(
        "bank.gateways.Kftc"
    )
    assert _settings_value("INTERBANK_GATEWAY", DEBUG="1", INTERBANK_GATEWAY="") == "''"


def test_no_gateway_configured_is_none(settings) -> None:
    settings.INTERBANK_GATEWAY = ""
    assert interbank_gateway() is None
    settings.INTERBANK_GATEWAY = SIMULATED_GATEWAY
    assert interbank_gateway() is not None


# --- transfers to other banks are refused ------------------------------------------------------------


def test_without_a_gateway_a_recipient_at_another_bank_is_refused_with_a_message(settings, alice) -> None:
    settings.INTERBANK_GATEWAY = ""
    with pytest.raises(ValidationError) as exc:
        svc.transfer_recipient(
            customer=alice, destination="other_bank", to_account_number="110123456789", to_bank_code="088"
        )
    assert exc.value.code == "interbank_unavailable"
    message = english(exc.value)
    assert message == (
        "Transfers to other banks are not available right now. Try a transfer within this bank, or call the bank."
    )
    assert message == str(svc.ERR_INTERBANK_UNAVAILABLE)


def test_without_a_gateway_a_transfer_to_another_bank_writes_nothing_but_its_refusal(settings, alice_bank) -> None:
    settings.INTERBANK_GATEWAY = ""
    before = (Transfer.objects.count(), Journal.objects.count())
    with pytest.raises(ValidationError) as exc:
        out(alice_bank, 10_000, "110123456789")
    assert exc.value.code == "interbank_unavailable"
    assert (Transfer.objects.count(), Journal.objects.count()) == before
    assert Account.objects.get(pk=alice_bank.account.pk).balance == 1_000_000
    refused = AuditEvent.objects.get(action="transfer.refused")
    assert refused.details["reason"] == "interbank_unavailable"


def test_without_a_gateway_transfers_within_the_bank_still_go(settings, alice_bank, teller, demand_product) -> None:
    settings.INTERBANK_GATEWAY = ""
    second = services.account_open(
        customer=alice_bank.customer, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=0, actor=teller
    )
    transfer = svc.transfer_execute(
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        destination="own",
        to_account_number=second.number,
        amount=10_000,
        idempotency_key=new_key(),
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=signer(alice_bank),
        actor=alice_bank.user,
    )
    assert transfer.status == Transfer.Status.COMPLETED


def test_without_a_gateway_the_transfer_page_offers_this_bank_only(settings, client, alice_bank, teller) -> None:
    security_card_issue(customer=alice_bank.customer, actor=teller)
    banking_login(client, alice_bank.user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get(TRANSFER).content.decode()
    assert 'value="other_bank"' in page and 'name="to_bank_code"' in page
    settings.INTERBANK_GATEWAY = ""
    page = client.get(TRANSFER).content.decode()
    assert 'value="other_bank"' not in page and 'name="to_bank_code"' not in page
    assert 'value="same_bank"' in page
    # A form posted anyway (an old page, a crafted request) is told to choose what the page offers.
    key = open_form(client)
    data = details(alice_bank, key, destination="other_bank", to_bank_code="088", to_account_number="110123456789")
    response = client.post(TRANSFER, data)
    assert response.status_code == 200
    with translation.override("en"):
        assert response.context["form"].errors["destination"] == [str(svc.ERR_DESTINATION)]
    assert Transfer.objects.count() == 0


# --- clearing with no gateway ------------------------------------------------------------------------


def _queued(banker: Banker) -> list[Transfer]:
    """Two transfers queued while the simulator was configured (the tests' default)."""
    return [out(banker, 10_000, "110123456789"), out(banker, 20_000, "110123450000")]


def test_clearing_without_a_gateway_sends_nothing_and_says_why(settings, alice_bank, caplog) -> None:
    queued = _queued(alice_bank)
    settings.INTERBANK_GATEWAY = ""
    journals = Journal.objects.count()
    with caplog.at_level(logging.WARNING, logger="accounts.services.clearing"):
        result = interbank_clearing_run(actor=JOB)
    assert (result.queued, result.sent, result.returned, result.chunks) == (2, 0, 0, 0)
    assert result.skipped == NO_GATEWAY and result.as_dict()["skipped"] == NO_GATEWAY
    assert "INTERBANK_GATEWAY is empty" in caplog.text and "2 transfer(s) stay queued" in caplog.text
    for transfer in queued:
        transfer.refresh_from_db()
        assert transfer.status == Transfer.Status.QUEUED and transfer.sent_at is None
    assert Journal.objects.count() == journals  # not even the refused one came back
    assert Account.objects.get(pk=alice_bank.account.pk).balance == 970_000
    assert not AuditEvent.objects.filter(action="transfer.clearing").exists()

    # Once a gateway is configured, the same queue goes out as usual.
    settings.INTERBANK_GATEWAY = SIMULATED_GATEWAY
    result = interbank_clearing_run(actor=JOB)
    assert (result.sent, result.returned, result.skipped) == (1, 1, "")


def test_the_command_and_the_task_without_a_gateway(settings, alice_bank) -> None:
    _queued(alice_bank)
    settings.INTERBANK_GATEWAY = ""
    stdout = StringIO()
    call_command("interbank_clearing", stdout=stdout)
    assert "nothing sent: no interbank gateway configured" in stdout.getvalue()
    assert "2 transfer(s) stay queued" in stdout.getvalue()
    answer = interbank_clearing_task.apply().get()
    assert answer["sent"] == 0 and answer["skipped"] == NO_GATEWAY
    assert Transfer.objects.filter(status=Transfer.Status.QUEUED).count() == 2


# --- the deploy check -------------------------------------------------------------------------------


def _warnings() -> list[str]:
    return [message.id or "" for message in interbank_simulator_in_production()]


def test_the_check_warns_about_the_simulator_with_debug_off(settings) -> None:
    settings.DEBUG = False
    settings.INTERBANK_GATEWAY = SIMULATED_GATEWAY
    [warning] = interbank_simulator_in_production()
    assert warning.id == "accounts.W001" and warning.level == checks.WARNING
    assert "never leave the bank" in warning.msg
    # Registered with the deployment checks (`check --deploy`).
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "accounts.W001" in [message.id for message in found]
    assert "accounts.W001" not in [message.id for message in checks.run_checks(tags=[checks.Tags.security])]


def test_the_check_also_knows_a_subclass_of_the_simulator(settings) -> None:
    settings.DEBUG = False
    settings.INTERBANK_GATEWAY = "tests.accounts.test_clearing.CountingGateway"
    assert _warnings() == ["accounts.W001"]


@pytest.mark.parametrize(
    ("debug", "gateway"),
    [
        (True, SIMULATED_GATEWAY),
        (False, ""),
        (False, "bank.gateways.KftcGateway"),  # another gateway, even one that does not import here
        (False, "accounts.services.clearing.OutboundTransfer"),
    ],
)
def test_the_check_is_silent_with_debug_on_or_another_gateway(settings, debug, gateway) -> None:
    settings.DEBUG = debug
    settings.INTERBANK_GATEWAY = gateway
    assert _warnings() == []
