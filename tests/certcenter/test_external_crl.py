"""Other institutions' CRLs: a trusted CA's CRL is loaded only if that CA signed it, it is complete and
current and not older than the one loaded; its revoked certificates are then refused at registration,
login and e-signature, and once a CRL was loaded every certificate of the CA is refused while it is past
its next update. Loaded from a file, a URL (a local HTTP server here) or nightly from each CA's URL."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from accounts.identity import customer_rrn
from accounts.services.agreements import agreement_web_actor
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter import ca, services
from certcenter.admin import MSG_CRL_CURRENT, MSG_CRL_NONE, MSG_CRL_STALE
from certcenter.models import ExternalCertificate, ExternalRevocation, SignatureEvidence, TrustedAuthority
from certcenter.services import external, external_crl
from certcenter.tasks import trusted_authorities_crl_refresh_task
from tests.certcenter.external_pki import other_bank_ca
from tests.certcenter.test_external import (
    OPS,
    REGISTER_TIME,
    SERIAL,
    _other_ca,
    der,
    leaf,
    login_with,
    register,
    trust,
)
from tests.certcenter.test_login import CA_ACTOR, CA_TIME, apply_and_register, browser_key, sign
from tests.conftest import staff_login

KEY = ca.RevocationReason.KEY_COMPROMISE
CRL_TIME = dt.datetime(2026, 5, 31, 6, 0, tzinfo=KST)  # the other bank's CRL of the morning before
NEXT_UPDATE = CRL_TIME + dt.timedelta(days=2)
OTHER_SERIAL = SERIAL + 7


def crl_of(
    material: ca.CaMaterial | None = None,
    *,
    revoked: tuple[int, ...] = (),
    number: int = 1,
    at: dt.datetime = CRL_TIME,
    next_update: dt.datetime | None = None,
) -> bytes:
    crl = ca.build_crl(
        issuer=material or _other_ca(),
        revoked=[(serial, at - dt.timedelta(hours=1), KEY) for serial in revoked],
        number=number,
        now=at,
        next_update=next_update or at + dt.timedelta(days=2),
    )
    return ca.crl_der(crl)


def load(data: bytes, *, now: dt.datetime = REGISTER_TIME, authority: TrustedAuthority | None = None):  # type: ignore[no-untyped-def]
    return external_crl.trusted_authority_crl_load(
        authority=authority or TrustedAuthority.objects.get(), data=data, source="test", actor=OPS, now=now
    )


def refused(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    with translation.override("en"):
        return str(exc.value.code), exc.value.messages[0]


@pytest.fixture
def pki(db) -> services.CaInitResult:  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR, now=CA_TIME)


@pytest.fixture
def agreement(alice, alice_account, teller):  # type: ignore[no-untyped-def]
    return apply_and_register(alice, alice_account, teller, username="alice2026")


@pytest.fixture
def rrn(alice) -> str:  # type: ignore[no-untyped-def]
    return customer_rrn(alice)


def _impostor_with_same_name() -> ca.CaMaterial:
    """Another key under the other bank's CA name: what a forger could make."""
    return other_bank_ca(CA_TIME)


# --- pure: ca.load_crl ---------------------------------------------------------------------------------


def test_a_crl_loads_from_der_or_pem_with_its_times_number_and_serials() -> None:
    data = crl_of(revoked=(OTHER_SERIAL, SERIAL, SERIAL), number=41)
    pem = x509.load_der_x509_crl(data).public_bytes(serialization.Encoding.PEM)
    for form in (data, pem):
        contents = ca.load_crl(form, authority=_other_ca().certificate, now=REGISTER_TIME)
        assert contents.number == 41
        assert (contents.this_update, contents.next_update) == (CRL_TIME, NEXT_UPDATE)
        assert [entry.serial for entry in contents.revoked] == [SERIAL, OTHER_SERIAL]  # one per serial
        assert contents.revoked[0].revoked_at == CRL_TIME - dt.timedelta(hours=1)


def test_a_crl_of_another_ca_or_signed_by_another_key_or_garbage_is_refused() -> None:
    other = other_bank_ca(CA_TIME, name="Byeol Bank Class 2 CA")
    cases = {
        "foreign": crl_of(other),
        "bad_signature": crl_of(_impostor_with_same_name()),
        "unreadable": b"not a CRL",
    }
    for code, data in cases.items():
        with pytest.raises(ca.InvalidCrl) as exc:
            ca.load_crl(data, authority=_other_ca().certificate, now=REGISTER_TIME)
        assert exc.value.code == code
    with pytest.raises(ca.InvalidCrl) as exc:
        ca.load_crl(
            b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
            authority=_other_ca().certificate,
            now=REGISTER_TIME,
        )
    assert exc.value.code == "unreadable"


@pytest.mark.parametrize(
    ("moment", "code"),
    [
        (NEXT_UPDATE, None),
        (NEXT_UPDATE + dt.timedelta(seconds=1), "expired"),
        (CRL_TIME - ca.CRL_CLOCK_SKEW, None),
        (CRL_TIME - ca.CRL_CLOCK_SKEW - dt.timedelta(seconds=1), "not_yet_valid"),
    ],
)
def test_a_crl_is_current_to_the_second(moment: dt.datetime, code: str | None) -> None:
    data = crl_of()
    if code is None:
        assert ca.load_crl(data, authority=_other_ca().certificate, now=moment).next_update == NEXT_UPDATE
    else:
        with pytest.raises(ca.InvalidCrl) as exc:
            ca.load_crl(data, authority=_other_ca().certificate, now=moment)
        assert exc.value.code == code


def _crl_with(extension: x509.ExtensionType, *, critical: bool) -> bytes:
    material = _other_ca()
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(material.certificate.subject)
        .last_update(CRL_TIME)
        .next_update(NEXT_UPDATE)
        .add_extension(x509.CRLNumber(3), critical=False)
        .add_extension(extension, critical=critical)
        .sign(material.private_key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


def test_a_delta_or_partitioned_crl_is_not_loaded_as_the_full_list() -> None:
    partition = x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier("ldap://other.example/dp1")],
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    for data in (_crl_with(x509.DeltaCRLIndicator(2), critical=True), _crl_with(partition, critical=True)):
        with pytest.raises(ca.InvalidCrl) as exc:
            ca.load_crl(data, authority=_other_ca().certificate, now=REGISTER_TIME)
        assert exc.value.code == "unsupported"
    # A scope that only says "end-entity certificates" is still the whole list for customers' certificates.
    users_only = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=True,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    assert ca.load_crl(_crl_with(users_only, critical=True), authority=_other_ca().certificate, now=REGISTER_TIME)


def test_a_ca_certificate_without_crl_sign_cannot_vouch_for_a_crl() -> None:
    material = _other_ca()
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    no_crl_sign = (
        x509.CertificateBuilder()
        .subject_name(material.certificate.subject)
        .issuer_name(material.certificate.issuer)
        .public_key(material.private_key.public_key())
        .serial_number(99)
        .not_valid_before(CA_TIME)
        .not_valid_after(CA_TIME + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(root_key, hashes.SHA256())
    )
    with pytest.raises(ca.InvalidCrl) as exc:
        ca.load_crl(crl_of(), authority=no_crl_sign, now=REGISTER_TIME)
    assert exc.value.code == "not_crl_signer"


# --- loading: rows replaced, older refused ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_newer_crl_replaces_the_revoked_serials_and_the_same_one_changes_nothing() -> None:
    trust()
    first = load(crl_of(revoked=(SERIAL, OTHER_SERIAL), number=5))
    assert (first.changed, first.number, first.revoked) == (True, 5, 2)
    authority = TrustedAuthority.objects.get()
    assert (authority.crl_number, authority.crl_this_update, authority.crl_next_update) == ("5", CRL_TIME, NEXT_UPDATE)
    assert authority.crl_loaded_at == REGISTER_TIME

    later = CRL_TIME + dt.timedelta(hours=6)
    second = load(crl_of(revoked=(OTHER_SERIAL, SERIAL + 9), number=6, at=later))
    assert second.changed and second.revoked == 2
    assert sorted(ExternalRevocation.objects.values_list("serial", flat=True)) == sorted(
        [str(OTHER_SERIAL), str(SERIAL + 9)]
    )
    again = load(crl_of(revoked=(OTHER_SERIAL, SERIAL + 9), number=6, at=later))
    assert not again.changed and ExternalRevocation.objects.count() == 2

    loads = AuditEvent.objects.filter(action="trusted_authority.crl_load").order_by("pk")
    assert [event.details["changed"] for event in loads] == [True, True, False]
    assert all(event.actor_label == "system:command:test" for event in loads)
    assert ":" in loads[0].details["fingerprint"]


@pytest.mark.django_db
def test_an_older_crl_is_refused_by_its_time_or_its_number() -> None:
    trust()
    later = CRL_TIME + dt.timedelta(hours=6)
    load(crl_of(revoked=(SERIAL,), number=6, at=later))
    for older in (
        crl_of(number=7, at=later - dt.timedelta(seconds=1)),  # a higher number but issued earlier
        crl_of(number=5, at=later + dt.timedelta(hours=1)),  # issued later but a lower number
    ):
        with pytest.raises(ValidationError) as exc:
            load(older)
        code, message = refused(exc)
        assert code == "older" and "older than the one loaded already" in message
    authority = TrustedAuthority.objects.get()
    assert (authority.crl_number, authority.crl_this_update) == ("6", later)
    assert list(ExternalRevocation.objects.values_list("serial", flat=True)) == [str(SERIAL)]
    reasons = AuditEvent.objects.filter(action="trusted_authority.crl_refused").values_list("details", flat=True)
    assert [details["reason"] for details in reasons] == ["older", "older"]


@pytest.mark.django_db
def test_a_crl_signed_by_another_key_loads_nothing_and_is_audited() -> None:
    trust()
    with pytest.raises(ValidationError) as exc:
        load(crl_of(_impostor_with_same_name(), revoked=(SERIAL,)))
    code, message = refused(exc)
    assert code == "bad_signature" and "does not verify" in message
    authority = TrustedAuthority.objects.get()
    assert authority.crl_loaded_at is None and not ExternalRevocation.objects.exists()
    assert AuditEvent.objects.get(action="trusted_authority.crl_refused").details["reason"] == "bad_signature"


@pytest.mark.django_db
def test_only_operations_load_crls(alice) -> None:  # type: ignore[no-untyped-def]
    trust()
    for actor in (agreement_web_actor(), services.certificate_login_actor()):
        with pytest.raises(PermissionDenied):
            external_crl.trusted_authority_crl_load(
                authority=TrustedAuthority.objects.get(), data=crl_of(), source="x", actor=actor
            )


# --- the checks: registration, login, e-signature --------------------------------------------------------


def _sign_with(customer: Any, user: Any, cert: x509.Certificate, key_name: str, now: dt.datetime):  # type: ignore[no-untyped-def]
    text = "amount=50000\nto=088-123"
    return services.signature_verify(
        customer=customer,
        certificate_der=der(cert),
        text=text,
        signature=sign(browser_key(key_name), text.encode()),
        purpose="transfer",
        actor=user,
        now=now,
    )


def test_a_certificate_in_the_crl_is_refused_and_one_not_in_it_is_accepted(pki, agreement, alice, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    revoked_cert = leaf(rrn)
    register(agreement, revoked_cert)  # registered before its issuer revoked it
    load(crl_of(revoked=(SERIAL, SERIAL + 100)))
    now = REGISTER_TIME + dt.timedelta(minutes=5)

    with pytest.raises(ValidationError) as exc:
        login_with(revoked_cert, now=now)
    code, message = refused(exc)
    assert code == "revoked" and "Hanul Bank Class 2 CA" in message and "new certificate issued there" in message
    assert "2026-05-31" in message  # the revocation date, in KST
    with pytest.raises(ValidationError) as exc:
        _sign_with(alice, agreement.user, revoked_cert, "alice-other", now)
    assert refused(exc)[0] == "revoked"
    assert not SignatureEvidence.objects.filter(purpose__in=["login", "transfer"]).exists()
    assert AuditEvent.objects.get(action="certificate.login_refused").details["reason"] == "revoked"
    assert AuditEvent.objects.get(action="signature.refused").details["reason"] == "revoked"

    # Registering a revoked certificate is refused with nothing written.
    listed = leaf(rrn, serial=SERIAL + 100, key_name="alice-listed")
    with pytest.raises(ValidationError) as exc:
        register(agreement, listed, key_name="alice-listed", now=now)
    assert refused(exc)[0] == "revoked"
    assert not ExternalCertificate.objects.filter(serial=str(SERIAL + 100)).exists()

    # A certificate of the same CA that the CRL does not list registers, logs in and signs.
    fine = leaf(rrn, serial=OTHER_SERIAL, key_name="alice-fine")
    row = register(agreement, fine, key_name="alice-fine", now=now)
    assert login_with(fine, key_name="alice-fine", now=now).certificate == row
    assert _sign_with(alice, agreement.user, fine, "alice-fine", now).external_certificate == row


@pytest.mark.parametrize(("after", "accepted"), [(dt.timedelta(0), True), (dt.timedelta(seconds=1), False)])
def test_a_loaded_crl_past_its_next_update_refuses_every_certificate_of_its_ca(  # type: ignore[no-untyped-def]
    pki, agreement, alice, rrn, after, accepted
) -> None:
    trust()
    cert = leaf(rrn)
    register(agreement, cert)
    next_update = REGISTER_TIME + dt.timedelta(hours=3)
    load(crl_of(revoked=(SERIAL + 100,), at=REGISTER_TIME - dt.timedelta(hours=1), next_update=next_update))
    moment = next_update + after
    new_cert = leaf(rrn, serial=OTHER_SERIAL, key_name="alice-new")
    if accepted:
        assert login_with(cert, now=moment).user == agreement.user
        assert _sign_with(alice, agreement.user, cert, "alice-other", moment)
        assert register(agreement, new_cert, key_name="alice-new", now=moment).serial == str(OTHER_SERIAL)
        return
    for attempt in (
        lambda: login_with(cert, now=moment),
        lambda: _sign_with(alice, agreement.user, cert, "alice-other", moment),
        lambda: register(agreement, new_cert, key_name="alice-new", now=moment),
    ):
        with pytest.raises(ValidationError) as exc:
            attempt()
        code, message = refused(exc)
        assert code == "revocation_unknown"
        assert "cannot be confirmed right now" in message and "certificate issued by this bank" in message
    assert not ExternalCertificate.objects.filter(serial=str(OTHER_SERIAL)).exists()


def test_without_a_loaded_crl_certificates_are_accepted_unchecked(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    cert = leaf(rrn)
    register(agreement, cert)
    far_later = REGISTER_TIME + dt.timedelta(days=200)
    assert login_with(cert, now=far_later).user == agreement.user
    assert "no CRL loaded" in _run("ca_trust_list")


# --- commands: file, URL, fetch, list ---------------------------------------------------------------------


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class _Served:
    """Bodies the local HTTP server answers with, by path (404 for anything else)."""

    bodies: dict[str, bytes] = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = _Served.bodies.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def crl_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    _Served.bodies = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _current_crl(material: ca.CaMaterial | None = None, **kw: Any) -> bytes:
    """A CRL current on the real clock (the commands and the job use it)."""
    return crl_of(material, at=timezone.now() - dt.timedelta(hours=1), **kw)


def _fingerprint() -> str:
    return services.colon_hex(ca.fingerprint_sha256(_other_ca().certificate))


@pytest.mark.django_db
def test_a_crl_file_loads_with_the_command_and_the_list_shows_it(tmp_path: Path) -> None:
    trust()
    path = tmp_path / "other.crl"
    path.write_bytes(
        x509.load_der_x509_crl(_current_crl(revoked=(SERIAL, OTHER_SERIAL), number=12)).public_bytes(
            serialization.Encoding.PEM
        )
    )
    assert "CRL loaded: 2 revoked" in _run("ca_trust_crl", _fingerprint(), str(path))
    assert "nothing to do" in _run("ca_trust_crl", _fingerprint().replace(":", "").lower(), str(path))
    listed = _run("ca_trust_list")
    assert "number 12" in listed and "2 revoked" in listed and "current" in listed and "STALE" not in listed

    # Once past its next update, the list says so.
    week_ago = timezone.now() - dt.timedelta(days=7)
    TrustedAuthority.objects.update(crl_this_update=week_ago, crl_next_update=week_ago + dt.timedelta(days=2))
    assert "STALE" in _run("ca_trust_list")

    for bad_args, match in (
        ((_fingerprint(), str(tmp_path / "missing.crl")), "missing.crl"),
        ((_fingerprint(),), "exactly one of"),
        ((_fingerprint(), str(path), "--fetch"), "exactly one of"),
        (("00" * 32, str(path)), "No trusted CA"),
    ):
        with pytest.raises(CommandError, match=match):
            _run("ca_trust_crl", *bad_args)
    garbage = tmp_path / "garbage.crl"
    garbage.write_bytes(b"garbage")
    with pytest.raises(CommandError, match="not a certificate revocation list"):
        _run("ca_trust_crl", _fingerprint(), str(garbage))


@pytest.mark.django_db
def test_a_crl_loads_from_a_url_and_from_the_cas_own_url(crl_server: str) -> None:
    trust()
    _Served.bodies["/other.crl"] = _current_crl(revoked=(SERIAL,), number=3)
    assert "CRL loaded: 1 revoked" in _run("ca_trust_crl", _fingerprint(), "--url", f"{crl_server}/other.crl")
    assert TrustedAuthority.objects.get().crl_url == ""  # --url loads once, keeps no URL

    with pytest.raises(CommandError, match="no CRL URL"):
        _run("ca_trust_crl", _fingerprint(), "--fetch")
    with pytest.raises(CommandError, match="http:// or https://"):
        _run("ca_trust_crl", _fingerprint(), "--set-url", "file:///etc/passwd")
    assert "CRL URL set" in _run("ca_trust_crl", _fingerprint(), "--set-url", f"{crl_server}/today.crl")
    _Served.bodies["/today.crl"] = _current_crl(revoked=(SERIAL, OTHER_SERIAL), number=4)
    assert "CRL loaded: 2 revoked" in _run("ca_trust_crl", _fingerprint(), "--fetch")
    with pytest.raises(CommandError, match="HTTP 404"):
        _run("ca_trust_crl", _fingerprint(), "--url", f"{crl_server}/missing.crl")
    actions = list(
        AuditEvent.objects.filter(action__startswith="trusted_authority.crl").values_list("action", flat=True)
    )
    assert actions.count("trusted_authority.crl_load") == 2 and "trusted_authority.crl_url" in actions
    assert "trusted_authority.crl_refused" in actions


@pytest.mark.django_db
def test_a_download_over_the_size_limit_is_refused(crl_server: str) -> None:
    _Served.bodies["/big.crl"] = b"x" * 5000
    with pytest.raises(ValidationError) as exc:
        external_crl.crl_download(f"{crl_server}/big.crl", max_bytes=4096)
    assert exc.value.code == "too_large"
    assert external_crl.crl_download(f"{crl_server}/big.crl", max_bytes=5000) == b"x" * 5000
    with pytest.raises(ValidationError) as exc:
        external_crl.crl_download("ftp://127.0.0.1/big.crl")
    assert exc.value.code == "url"


@pytest.mark.django_db
def test_ca_trust_add_sets_the_crl_url(tmp_path: Path) -> None:
    path = tmp_path / "other-ca.pem"
    path.write_bytes(ca.certificate_pem(_other_ca().certificate))
    with pytest.raises(CommandError, match="http:// or https://"):
        _run("ca_trust_add", str(path), "--crl-url", "not a url")
    assert not TrustedAuthority.objects.exists()  # nothing added for a bad URL
    out = _run("ca_trust_add", str(path), "--crl-url", "https://other.example/crl/class2.crl")
    assert "https://other.example/crl/class2.crl" in out and "no CRL loaded" in out
    assert TrustedAuthority.objects.get().crl_url == "https://other.example/crl/class2.crl"


# --- the nightly job ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_nightly_job_loads_every_ca_and_goes_on_past_a_failing_one(crl_server: str) -> None:
    broken = trust(other_bank_ca(CA_TIME, name="Byeol Bank Class 2 CA")).authority
    good = trust().authority
    removed = trust(other_bank_ca(CA_TIME, name="Old Bank Class 2 CA")).authority
    actor = external.trust_command_actor("test")
    external_crl.trusted_authority_set_crl_url(authority=broken, url=f"{crl_server}/gone.crl", actor=actor)
    external_crl.trusted_authority_set_crl_url(authority=good, url=f"{crl_server}/good.crl", actor=actor)
    external_crl.trusted_authority_set_crl_url(authority=removed, url=f"{crl_server}/old.crl", actor=actor)
    external.trusted_authority_remove(fingerprint=removed.fingerprint_sha256, actor=actor)
    _Served.bodies["/good.crl"] = _current_crl(revoked=(SERIAL,), number=8)
    _Served.bodies["/old.crl"] = _current_crl(revoked=(SERIAL,), number=8)

    result = trusted_authorities_crl_refresh_task()

    assert result == {
        "loaded": 1,
        "unchanged": 0,
        "failed": [{"authority": broken.pk, "reason": "download_failed"}],
        "stale": [],
    }
    good.refresh_from_db()
    assert good.crl_number == "8" and list(good.revocations.values_list("serial", flat=True)) == [str(SERIAL)]
    assert not ExternalRevocation.objects.filter(authority=removed).exists()  # removed CAs are skipped
    refusal = AuditEvent.objects.get(action="trusted_authority.crl_refused")
    assert refusal.details["reason"] == "download_failed" and refusal.actor_label == "system:trusted_crl_refresh"
    assert AuditEvent.objects.get(action="trusted_authority.crl_load").actor_label == "system:trusted_crl_refresh"
    assert trusted_authorities_crl_refresh_task()["unchanged"] == 1


@pytest.mark.django_db
def test_the_nightly_job_survives_an_unexpected_error_and_reports_stale_crls() -> None:
    first = trust(other_bank_ca(CA_TIME, name="Byeol Bank Class 2 CA")).authority
    second = trust().authority
    actor = external.trust_command_actor("test")
    external_crl.trusted_authority_set_crl_url(authority=first, url="https://byeol.example/ca.crl", actor=actor)
    external_crl.trusted_authority_set_crl_url(authority=second, url="https://hanul.example/ca.crl", actor=actor)
    load(crl_of(number=1), authority=second)  # loaded earlier; the job runs after its next update

    def download(url: str) -> bytes:
        if "byeol" in url:
            raise RuntimeError("a bug, not a refusal")
        raise ValidationError("offline", code="download_failed")

    summary = external_crl.trusted_authorities_crl_refresh(
        actor=external_crl.crl_refresh_actor(), now=NEXT_UPDATE + dt.timedelta(seconds=1), download=download
    )
    assert summary.failed == [
        {"authority": first.pk, "reason": "error"},
        {"authority": second.pk, "reason": "download_failed"},
    ]
    assert summary.stale == [second.pk]
    at_the_edge = external_crl.trusted_authorities_crl_refresh(
        actor=external_crl.crl_refresh_actor(), now=NEXT_UPDATE, download=download
    )
    assert at_the_edge.stale == []


# --- the database backs it up -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_database_refuses_half_loaded_crl_fields_and_duplicate_serials() -> None:
    authority = trust().authority
    broken_updates: list[dict[str, Any]] = [
        {"crl_loaded_at": REGISTER_TIME},  # loaded, but no times
        {"crl_number": "7"},  # a number without a CRL
        {"crl_loaded_at": REGISTER_TIME, "crl_this_update": CRL_TIME, "crl_next_update": CRL_TIME},
        {
            "crl_loaded_at": REGISTER_TIME,
            "crl_this_update": CRL_TIME,
            "crl_next_update": NEXT_UPDATE,
            "crl_number": "07",
        },
    ]
    for update in broken_updates:
        with pytest.raises(IntegrityError), transaction.atomic():
            TrustedAuthority.objects.filter(pk=authority.pk).update(**update)
    ExternalRevocation.objects.create(authority=authority, serial="42", revoked_at=CRL_TIME)
    for serial in ("42", "042"):
        with pytest.raises(IntegrityError), transaction.atomic():
            ExternalRevocation.objects.create(authority=authority, serial=serial, revoked_at=CRL_TIME)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_loads_at_once_leave_the_newer_crl(requires_postgres) -> None:  # type: ignore[no-untyped-def]
    """An operator's older file and the nightly job's newer CRL, loaded at the same moment: whichever
    locks the CA first, the newer CRL is what stays, with exactly its serials."""
    authority = trust().authority
    newer = crl_of(revoked=(SERIAL, OTHER_SERIAL), number=9, at=CRL_TIME + dt.timedelta(hours=1))
    older = crl_of(revoked=(SERIAL + 1,), number=8)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(name: str, data: bytes) -> None:
        try:
            barrier.wait(timeout=10)
            load(data, authority=authority)
            outcomes[name] = "loaded"
        except ValidationError as exc:
            outcomes[name] = str(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in (("newer", newer), ("older", older))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes["newer"] == "loaded" and outcomes["older"] in {"loaded", "older"}
    authority.refresh_from_db()
    assert authority.crl_number == "9"
    assert sorted(ExternalRevocation.objects.values_list("serial", flat=True)) == sorted(
        [str(SERIAL), str(OTHER_SERIAL)]
    )


# --- admin ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_see_the_crl_state_and_the_revoked_serials_read_only(client, teller) -> None:  # type: ignore[no-untyped-def]
    trust()
    authority = TrustedAuthority.objects.get()
    staff_login(client, teller)

    def page(url: str) -> str:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        return response.content.decode()

    with translation.override("en"):
        none, current, stale = str(MSG_CRL_NONE), str(MSG_CRL_CURRENT), str(MSG_CRL_STALE)
    assert none in page(reverse("admin:certcenter_trustedauthority_changelist"))
    load(_current_crl(revoked=(SERIAL, OTHER_SERIAL), number=12), now=timezone.now())
    detail = page(reverse("admin:certcenter_trustedauthority_change", args=[authority.pk]))
    assert current in detail and stale not in detail and f"authority__id__exact={authority.pk}" in detail
    assert str(SERIAL) in page(reverse("admin:certcenter_externalrevocation_changelist") + f"?q={SERIAL}")
    assert client.get(reverse("admin:certcenter_externalrevocation_add")).status_code == 403
    row = ExternalRevocation.objects.get(serial=str(SERIAL))
    assert client.post(reverse("admin:certcenter_externalrevocation_delete", args=[row.pk])).status_code == 403


def test_the_crl_refresh_runs_every_hour_so_a_one_day_crl_never_goes_stale_between_runs(settings) -> None:  # type: ignore[no-untyped-def]
    from celery.schedules import crontab

    entry = settings.CELERY_BEAT_SCHEDULE["trusted-crl-refresh-hourly"]
    assert entry["task"] == "certcenter.tasks.trusted_authorities_crl_refresh_task"
    assert entry["schedule"] == crontab(minute=35)
    assert entry["options"]["expires"] < 60 * 60
