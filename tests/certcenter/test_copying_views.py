# ruff: noqa: F811 - the cert fixture is imported from tests/certcenter/test_copying.py
"""Copy a certificate to another device, the pages and JSON endpoints: the two pages render in Korean and
English with their script and messages; the receiver's browser session owns its code; refusals are
translated JSON (400, or 429 while paused); unreadable requests are 400, never 500; CSRF is enforced."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from certcenter import copying as copy_views
from certcenter.models import CertificateCopy
from certcenter.services import copying
from tests.certcenter.test_copying import cert, encrypted_key, plain_key  # noqa: F401  (cert is a fixture)
from tests.certcenter.test_login import Issued

pytestmark = pytest.mark.django_db

CLIENT_IP = "127.0.0.1"  # the test client's address
START, STATUS, PICKUP, UPLOAD = (
    "/certificates/copy/receive/start/",
    "/certificates/copy/receive/status/",
    "/certificates/copy/receive/pickup/",
    "/certificates/copy/send/upload/",
)


@pytest.fixture(autouse=True)
def _fresh_copy_throttle() -> Iterator[None]:
    keys = copying.throttle_keys(CLIENT_IP)
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def _post(client: Client, url: str, body: Any = None, *, raw: bytes | None = None, language: str = "en", **extra: Any):  # type: ignore[no-untyped-def]
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    return client.post(url, data, content_type="application/json", HTTP_ACCEPT_LANGUAGE=language, **extra)


def _upload_body(issued: Issued, code: str, *, key: bytes | None = None) -> dict[str, str]:
    return {
        "code": code,
        "certificate": base64.b64encode(issued.der).decode(),
        "key": base64.b64encode(encrypted_key(issued.key) if key is None else key).decode(),
    }


def test_the_url_names_are_in_the_certcenter_namespace() -> None:
    assert reverse("certcenter:copy_receive") == "/certificates/copy/receive/"
    assert reverse("certcenter:copy_send") == "/certificates/copy/send/"
    assert reverse("certcenter:copy_start") == START
    assert reverse("certcenter:copy_status") == STATUS
    assert reverse("certcenter:copy_pickup") == PICKUP
    assert reverse("certcenter:copy_upload") == UPLOAD


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("name", ["certcenter:copy_receive", "certcenter:copy_send"])
def test_the_pages_render_anonymously_in_both_languages_with_their_script(client, name: str, language: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    html = response.content.decode()
    assert "js/certcenter-copy.js" in html and 'id="copy-messages"' in html
    assert "<script>" not in html.replace('<script id="copy-messages" type="application/json">', "")
    with translation.override(language):
        title = "Receive a certificate" if name.endswith("receive") else "Send a certificate"
        assert str(translation.gettext(title)) in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_code_from_the_receive_endpoint_carries_a_copy_end_to_end(cert, client) -> None:  # type: ignore[no-untyped-def]
    started = _post(client, START)
    assert started.status_code == 200
    code = started.json()["code"]
    assert started.json()["code_display"] == copying.format_code(code) and started.json()["expires_in"] == 300
    assert _post(client, STATUS, {"code": code}).json()["state"] == "waiting"

    sender = Client()
    response = _post(sender, UPLOAD, _upload_body(cert, copying.format_code(code)))
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert _post(client, STATUS, {"code": code}).json()["state"] == "uploaded"

    picked = _post(client, PICKUP, {"code": code})
    assert picked.status_code == 200
    data = picked.json()
    assert base64.b64decode(data["certificate"]) == cert.der
    assert base64.b64decode(data["key"])[:4] == encrypted_key(cert.key)[:4]
    assert data["serial"] == cert.row.serial and data["subject"] == cert.row.subject_cn
    assert CertificateCopy.objects.get().payload is None

    again = _post(client, PICKUP, {"code": code})
    assert again.status_code == 400
    assert again.json() == {"code": "code_used", "message": str(copying.ERR_CODE_USED)}


def test_refusals_are_translated_into_the_users_language(cert, client) -> None:  # type: ignore[no-untyped-def]
    for language in ("ko", "en"):
        response = _post(Client(), UPLOAD, _upload_body(cert, "000000000000"), language=language)
        assert response.status_code == 400
        with translation.override(language):
            assert response.json() == {"code": "code_unknown", "message": str(copying.ERR_CODE_UNKNOWN)}


def test_a_plain_key_is_refused_with_its_message(cert, client) -> None:  # type: ignore[no-untyped-def]
    code = _post(client, START).json()["code"]
    response = _post(Client(), UPLOAD, _upload_body(cert, code, key=plain_key(cert.key)))
    assert response.status_code == 400 and response.json()["code"] == "plain_key"
    assert CertificateCopy.objects.get().payload is None


def test_another_browser_cannot_see_or_pick_up_the_copy(cert, client) -> None:  # type: ignore[no-untyped-def]
    code = _post(client, START).json()["code"]
    _post(Client(), UPLOAD, _upload_body(cert, code))
    stranger = Client()
    assert _post(stranger, STATUS, {"code": code}).json()["code"] == "other_session"
    response = _post(stranger, PICKUP, {"code": code})
    assert response.status_code == 400 and response.json()["code"] == "other_session"
    assert _post(client, PICKUP, {"code": code}).status_code == 200


def test_ten_wrong_codes_pause_uploads_from_the_address_with_429(cert, client) -> None:  # type: ignore[no-untyped-def]
    code = _post(client, START).json()["code"]
    sender = Client()
    for n in range(copying.WRONG_CODE_LIMIT):
        assert _post(sender, UPLOAD, _upload_body(cert, f"{n:012d}")).status_code == 400
    response = _post(sender, UPLOAD, _upload_body(cert, code))
    assert response.status_code == 429 and response["Retry-After"] == "900"
    with translation.override("en"):
        assert response.json() == {"code": "paused", "message": str(copying.ERR_PAUSED % {"minutes": 15})}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"\xff\xfe",
        b'{"code": 12}',
        b'{"code": null}',
        b"[" * 5000,
        json.dumps({"code": "1" * 1000}).encode(),
        json.dumps({"code": "123412341234", "certificate": "!!!", "key": "AAAA"}).encode(),
        json.dumps({"code": "123412341234", "certificate": "", "key": ""}).encode(),
        json.dumps({"code": "123412341234", "certificate": ["x"], "key": {}}).encode(),
        json.dumps({"code": "123412341234", "certificate": "MA==", "key": "MA=="}).encode(),
        json.dumps({"code": "١٢٣٤٥٦٧٨٩٠١٢", "certificate": "MA==", "key": "MA=="}).encode(),
    ],
)
@pytest.mark.parametrize("url", [STATUS, PICKUP, UPLOAD])
def test_garbage_is_a_400_never_a_500(cert, client, url: str, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    _post(client, START)
    response = _post(client, url, raw=raw)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"} and response.json()["message"]


def test_an_oversized_upload_is_refused_as_too_large(client) -> None:  # type: ignore[no-untyped-def]
    huge = base64.b64encode(b"\x30" * (copying.CERTIFICATE_MAX_BYTES + 100)).decode()
    response = _post(client, UPLOAD, {"code": "123412341234", "certificate": huge, "key": "MA=="})
    assert response.status_code == 400 and response.json()["code"] == "too_large"
    response = _post(client, UPLOAD, raw=b" " * (copy_views.BODY_MAX_BYTES + 1))
    assert response.status_code == 400 and response.json()["code"] == "too_large"


@pytest.mark.parametrize("url", [START, STATUS, PICKUP, UPLOAD])
def test_the_json_endpoints_take_post_only(client, url: str) -> None:  # type: ignore[no-untyped-def]
    assert client.get(url).status_code == 405


def test_the_endpoints_need_the_csrf_token(cert) -> None:  # type: ignore[no-untyped-def]
    browser = Client(enforce_csrf_checks=True)
    assert _post(browser, START).status_code == 403
    token = "a" * 32
    browser.cookies[settings.CSRF_COOKIE_NAME] = token
    started = _post(browser, START, HTTP_X_CSRFTOKEN=token)
    assert started.status_code == 200
    sender = Client(enforce_csrf_checks=True)
    assert _post(sender, UPLOAD, _upload_body(cert, started.json()["code"])).status_code == 403
    assert CertificateCopy.objects.get().uploaded_at is None
