"""Operations enrol staff for the OTP-protected admin: staff_create, staff_otp_reset, and the demo's
authenticators (seed_demo, staff_otp_code). Each prints a QR code, the otpauth URI and the secret."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command, load_command_class
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.management.commands.seed_demo import demo_totp_key
from accounts.models import User
from accounts.services.staff import staff_create, staff_otp_enrol, staff_totp_secret
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "Bank-teller-2026!"
QR_BLOCK = re.compile("[\u2580\u2584\u2588]{20,}")  # a row of the terminal QR code


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    """Operators may run the commands in either language; the messages are asserted in English."""
    with translation.override("en"):
        yield


@pytest.fixture
def password_file(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return str(path)


def _run(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def _printed_uri(output: str) -> str:
    match = re.search(r"otpauth://\S+", output)
    assert match, output
    return match.group(0)


def _signs_in(username: str, password: str, secret: str) -> bool:
    """Sign in to the admin as the staff member would: the code from an authenticator app holding ``secret``."""
    client = Client()
    client.post(
        reverse("admin:login"), {"username": username, "password": password, "otp_token": pyotp.TOTP(secret).now()}
    )
    return client.get(reverse("admin:index")).status_code == 200


def test_staff_create_makes_the_user_group_and_device_and_prints_a_qr_and_uri(password_file):
    """A teller with a confirmed authenticator; the printed QR/URI is what lets them into the admin."""
    output = _run("staff_create", "teller07", role="teller", name="김창구", password_file=password_file)

    user = User.objects.get(username="teller07")
    assert user.is_staff and not user.is_superuser and user.first_name == "김창구" and user.check_password(PASSWORD)
    assert list(user.groups.values_list("name", flat=True)) == ["Teller"]
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    assert QR_BLOCK.search(output)
    uri = _printed_uri(output)
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp" and parsed.path.endswith(":teller07")
    secret = parse_qs(parsed.query)["secret"][0]
    assert secret == staff_totp_secret(device)
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in output
    assert _signs_in("teller07", PASSWORD, secret)


def test_staff_create_makes_a_branch_manager(password_file):
    _run("staff_create", "manager07", role="manager", password_file=password_file)
    assert User.objects.get(username="manager07").groups.get().name == "Branch manager"


def test_staff_create_is_audited_as_the_command_without_the_secret(password_file):
    """staff.create names the command and the role; no key, code or password reaches the trail."""
    _run("staff_create", "teller07", role="teller", password_file=password_file)
    event = AuditEvent.objects.get(action="staff.create")
    user = User.objects.get(username="teller07")
    assert (event.actor_label, event.channel, event.object_id) == (
        "system:command:staff_create",
        "command",
        str(user.pk),
    )
    assert event.details["role"] == "teller" and event.user_agent.startswith("manage.py staff_create; os user ")
    device = TOTPDevice.objects.get(user=user)
    assert device.key not in str(event.details) and staff_totp_secret(device) not in str(event.details)
    assert PASSWORD not in str(event.details)


@pytest.mark.parametrize("existing", ["teller07", "TELLER07"])
def test_staff_create_refuses_an_existing_user_name(password_file, existing):
    """Also case-insensitively; nothing is created or audited."""
    _run("staff_create", "teller07", role="teller", password_file=password_file)
    with pytest.raises(CommandError, match="already exists"):
        _run("staff_create", existing, role="manager", password_file=password_file)
    assert User.objects.count() == 1 and TOTPDevice.objects.count() == 1
    assert AuditEvent.objects.filter(action="staff.create").count() == 1


def test_staff_create_refuses_an_unknown_role_and_names_the_roles(password_file):
    with pytest.raises(CommandError, match=r"unknown role 'auditor': choose one of teller, manager"):
        _run("staff_create", "teller07", role="auditor", password_file=password_file)
    assert not User.objects.exists() and not TOTPDevice.objects.exists()


def test_staff_create_refuses_a_malformed_user_name(password_file):
    with pytest.raises(CommandError):
        _run("staff_create", "teller 07!", role="teller", password_file=password_file)
    with pytest.raises(CommandError):
        _run("staff_create", "  ", role="teller", password_file=password_file)
    assert not User.objects.exists()


def test_staff_create_refuses_a_weak_password(tmp_path):
    """The password validators apply; nothing is created."""
    weak = tmp_path / "weak"
    weak.write_text("12345678\n", encoding="utf-8")
    with pytest.raises(CommandError, match="too short|too common|entirely numeric"):
        _run("staff_create", "teller07", role="teller", password_file=str(weak))
    assert not User.objects.exists()


def test_staff_create_takes_no_password_on_the_command_line():
    """A password in argv would sit in shell history and the process list: there is no such option."""
    with pytest.raises(TypeError, match="password"):
        _run("staff_create", "teller07", role="teller", password=PASSWORD)
    with pytest.raises(CommandError):
        call_command("staff_create", "teller07", "--role", "teller", "--password", PASSWORD, stdout=io.StringIO())
    assert not User.objects.exists()


def test_staff_create_prompts_twice_and_refuses_a_mismatch(monkeypatch):
    """Interactive: typed twice with getpass; a mismatch creates nothing."""
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ"):
        _run("staff_create", "teller07", role="teller")
    assert not User.objects.exists()

    answers = iter([PASSWORD, PASSWORD])
    _run("staff_create", "teller07", role="teller")
    assert User.objects.get(username="teller07").check_password(PASSWORD)


def test_staff_create_without_a_terminal_needs_a_password_file(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="--password-file"):
        _run("staff_create", "teller07", role="teller")
    assert not User.objects.exists()


def test_staff_create_service_refuses_an_actor_without_the_permission():
    with pytest.raises(PermissionDenied):
        staff_create(
            username="teller07",
            role="teller",
            password=PASSWORD,
            actor=system_actor("test:nobody", ["accounts.add_user"]),
        )
    assert not User.objects.exists()


# --- staff_otp_reset ------------------------------------------------------------------------------


def test_staff_otp_reset_retires_the_old_device_prints_a_new_qr_and_is_audited(password_file):
    """A lost phone: the old secret stops working, the newly printed one works, and the reason is on record."""
    first = _run("staff_create", "teller07", role="teller", password_file=password_file)
    old_secret = parse_qs(urlparse(_printed_uri(first)).query)["secret"][0]

    output = _run("staff_otp_reset", "teller07", reason="lost phone, ticket OPS-1")

    new_secret = parse_qs(urlparse(_printed_uri(output)).query)["secret"][0]
    assert QR_BLOCK.search(output) and new_secret != old_secret
    assert TOTPDevice.objects.filter(user__username="teller07").count() == 1
    assert _signs_in("teller07", PASSWORD, new_secret)
    assert not _signs_in("teller07", PASSWORD, old_secret)
    event = AuditEvent.objects.get(action="staff.otp_enrol")
    assert event.actor_label == "system:command:staff_otp_reset" and event.channel == "command"
    assert event.details["reason"] == "lost phone, ticket OPS-1" and event.details["retired_devices"] == 1


def test_staff_otp_reset_says_it_is_for_operations():
    assert load_command_class("accounts", "staff_otp_reset").help.startswith("Operations only")
    assert load_command_class("accounts", "staff_create").help.startswith("Operations only")


def test_staff_otp_reset_needs_a_reason(teller):
    with pytest.raises(CommandError):
        call_command("staff_otp_reset", "teller", stdout=io.StringIO())
    with pytest.raises(CommandError, match="reason"):
        _run("staff_otp_reset", "teller", reason="  ")
    assert not TOTPDevice.objects.exists()


def test_staff_otp_reset_enrols_a_superuser_made_by_createsuperuser():
    """createsuperuser makes no authenticator; staff_otp_reset gives one, which then opens the admin."""
    User.objects.create_superuser(username="root", password=PASSWORD)
    output = _run("staff_otp_reset", "root", reason="first enrolment")
    assert _signs_in("root", PASSWORD, parse_qs(urlparse(_printed_uri(output)).query)["secret"][0])


def test_staff_otp_reset_refuses_a_customer_and_an_unknown_user(alice):
    User.objects.create_user(username="hong01", password=PASSWORD, customer=alice)
    with pytest.raises(CommandError, match="not a staff user"):
        _run("staff_otp_reset", "hong01", reason="x")
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        _run("staff_otp_reset", "ghost", reason="x")
    assert not TOTPDevice.objects.exists() and not AuditEvent.objects.filter(action="staff.otp_enrol").exists()


def test_staff_otp_reset_refuses_a_deactivated_staff_user(teller):
    """A leaver's account gets no new way into the admin."""
    teller.is_active = False
    teller.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="deactivated"):
        _run("staff_otp_reset", "teller", reason="x")
    assert not TOTPDevice.objects.exists()


def test_staff_otp_enrol_refuses_a_bad_key(teller):
    actor = system_actor("test:reset", ["otp_totp.add_totpdevice", "otp_totp.delete_totpdevice"])
    with pytest.raises(ValidationError) as excinfo:
        staff_otp_enrol(user=teller, actor=actor, reason="x", key="not-hex")
    assert excinfo.value.code == "key_invalid"
    assert not TOTPDevice.objects.exists()


# --- the demo: seed_demo and staff_otp_code ---------------------------------------------------------


@pytest.fixture(autouse=True)
def _demo_files_in_tmp(settings, tmp_path):  # type: ignore[no-untyped-def]
    """seed_demo writes the demo certificate's files under VAR_DIR: never the developer's own var/ in a test."""
    settings.VAR_DIR = tmp_path


def test_seed_demo_prints_each_demo_staff_members_secret_and_how_to_read_a_code(settings):
    settings.DEBUG = True
    output = _run("seed_demo")
    assert "manage.py staff_otp_code teller01" in output
    for username in ("teller01", "manager01"):
        device = TOTPDevice.objects.get(user__username=username)
        assert device.confirmed and device.key == demo_totp_key(username)
        assert f"secret={staff_totp_secret(device)}" in output
    assert len(QR_BLOCK.findall(output)) >= 2
    assert _signs_in(
        "teller01", "Demo-pass-2026!", staff_totp_secret(TOTPDevice.objects.get(user__username="teller01"))
    )


def test_seed_demo_never_changes_an_existing_authenticator_key(settings):
    """Re-running keeps every key an app already scanned, including one operations re-enrolled."""
    settings.DEBUG = True
    _run("seed_demo")
    keys = dict(TOTPDevice.objects.values_list("user__username", "key"))
    _run("seed_demo")
    assert dict(TOTPDevice.objects.values_list("user__username", "key")) == keys

    _run("staff_otp_reset", "manager01", reason="new phone")
    reset_key = TOTPDevice.objects.get(user__username="manager01").key
    output = _run("seed_demo")
    assert TOTPDevice.objects.get(user__username="manager01").key == reset_key != demo_totp_key("manager01")
    assert TOTPDevice.objects.count() == 2
    assert f"secret={staff_totp_secret(TOTPDevice.objects.get(user__username='manager01'))}" in output


def test_staff_otp_code_prints_the_code_the_admin_accepts(settings):
    settings.DEBUG = True
    _run("seed_demo")
    code = _run("staff_otp_code", "teller01").split()[0]
    assert re.fullmatch(r"[0-9]{6}", code)
    client = Client()
    client.post(reverse("admin:login"), {"username": "teller01", "password": "Demo-pass-2026!", "otp_token": code})
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_otp_code_refuses_with_debug_off(settings, teller):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refusing with DEBUG off"):
        _run("staff_otp_code", "teller")


def test_staff_otp_code_refuses_a_user_without_an_authenticator(settings, teller):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="no authenticator enrolled"):
        _run("staff_otp_code", "teller")
