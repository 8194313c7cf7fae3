"""/healthz answers load balancers: 200 when the database (and Redis, if configured) answer."""

import pytest

from bankportal import views

pytestmark = pytest.mark.django_db


def test_healthy(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not configured")


def test_database_failure_gives_503(client, monkeypatch):
    def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(views, "_check_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error"


def test_unreachable_redis_gives_503(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "error"


def test_real_redis_answers(client, requires_redis):
    assert client.get("/healthz").json()["checks"]["redis"] == "ok"


def test_post_is_not_allowed(client):
    assert client.post("/healthz").status_code == 405


def test_favicon_points_at_our_logo(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("images/logo.svg")
