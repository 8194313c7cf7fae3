"""The cloud's staff admin: read-only, the holder masked, no key material, PIN verifier or phone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certcenter.cloud.local import LocalCloud
from certcenter.cloud.models import CloudCertificate as Record
from tests.certcenter.cloud.conftest import issue

pytestmark = pytest.mark.django_db


def test_the_list_and_the_record_show_no_secret(admin_client, chain):
    state = issue(LocalCloud(), chain)
    record = Record.objects.get(cloud_id=state.cloud_id)
    pages = [
        admin_client.get(reverse("admin:fincloud_cloudcertificate_changelist")),
        admin_client.get(reverse("admin:fincloud_cloudcertificate_change", args=[record.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert "김*수" in html and "김민수" not in html
        assert "4821" not in html and record.phone_index not in html and "1990" not in html
        for secret in (record.key_ciphertext, record.wrapped_dek, record.pin_verifier):
            assert bytes(secret).hex() not in html
    assert state.serial in pages[1].content.decode()


def test_nobody_adds_changes_or_deletes_cloud_records_here(admin_client, chain):
    state = issue(LocalCloud(), chain)
    record = Record.objects.get(cloud_id=state.cloud_id)
    assert admin_client.get(reverse("admin:fincloud_cloudcertificate_add")).status_code == 403
    assert admin_client.post(reverse("admin:fincloud_cloudcertificate_delete", args=[record.pk])).status_code == 403
    assert Record.objects.filter(pk=record.pk).exists()
