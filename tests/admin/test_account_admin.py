"""The account admin: opening, cash at the counter, password failures, resets under a manager's
approval (책임자 승인), read-only pages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Sum
from django.urls import reverse

from accounts import services
from accounts.models import Account, Journal, LedgerEntry, StaffRequest, User
from bankportal.audit.models import AuditEvent
from tests.conftest import ACCOUNT_PASSWORD, STAFF_PASSWORD, staff_login

pytestmark = pytest.mark.django_db

WRONG_PASSWORD = "1357"


def _url(name: str, account: Account) -> str:
    return reverse(f"admin:accounts_account_{name}", args=[account.pk])


def _form_error_codes(response, field: str) -> list[str]:  # type: ignore[no-untyped-def]
    errors = response.context["form"].errors.as_data()
    return [e.code for e in errors.get(field, [])]


@pytest.fixture
def viewer(db) -> User:  # type: ignore[no-untyped-def]
    """Staff who may only look at accounts: no cash, no resets."""
    user = User.objects.create_user(username="viewer", password=STAFF_PASSWORD, is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_account"), Permission.objects.get(codename="view_customer")
    )
    return user


def test_teller_opens_an_account_with_an_opening_deposit(client, teller, alice, demand_product):
    """The add form opens an account through the service; the opening deposit is posted and audited."""
    staff_login(client, teller)

    response = client.post(
        reverse("admin:accounts_account_add"),
        {
            "customer": str(alice.pk),
            "product": str(demand_product.pk),
            "password1": "8203",
            "password2": "8203",
            "opening_deposit": "50,000",
        },
    )

    account = Account.objects.get(holder=alice)
    assert response.status_code == 302
    assert response["Location"] == _url("change", account)
    assert account.balance == 50_000
    assert AuditEvent.objects.filter(action="account.open", actor=teller).exists()
    assert AuditEvent.objects.filter(action="ledger.cash_deposit", actor=teller).exists()


def test_opening_with_mismatched_or_weak_password_is_refused_next_to_the_field(client, teller, alice, demand_product):
    """Two different passwords, or a straight run like 1234, are field errors and no account is opened."""
    staff_login(client, teller)
    base = {"customer": str(alice.pk), "product": str(demand_product.pk), "opening_deposit": "0"}

    mismatch = client.post(reverse("admin:accounts_account_add"), {**base, "password1": "8203", "password2": "8204"})
    weak = client.post(reverse("admin:accounts_account_add"), {**base, "password1": "1234", "password2": "1234"})

    assert [e.code for e in mismatch.context["adminform"].form.errors.as_data()["password2"]] == ["password_mismatch"]
    assert [e.code for e in weak.context["adminform"].form.errors.as_data()["password1"]] == ["account_password_weak"]
    assert not Account.objects.filter(holder=alice).exists()


def test_open_account_form_prefills_the_customer(client, teller, alice, demand_product):
    """The customer page's "Open an account" link pre-selects the customer (shown masked)."""
    staff_login(client, teller)

    response = client.get(reverse("admin:accounts_account_add"), {"customer": alice.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{alice.pk}"' in html
    assert alice.rrn_masked in html


def test_teller_cash_deposit_posts_balanced_entries(client, teller, alice_account):
    """A teller's cash deposit raises the balance; the journal's entries sum to zero; it is audited."""
    staff_login(client, teller)

    page = client.get(_url("cash_deposit", alice_account))
    response = client.post(_url("cash_deposit", alice_account), {"amount": "250,000", "memo": "창구 입금"})

    assert page.status_code == 200
    assert "csrfmiddlewaretoken" in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == _url("change", alice_account)
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_250_000
    journal = Journal.objects.filter(kind=Journal.Kind.CASH_DEPOSIT, memo="창구 입금").get()
    assert journal.created_by == teller
    assert journal.entries.count() == 2
    assert journal.entries.aggregate(total=Sum("amount"))["total"] == 0
    assert AuditEvent.objects.filter(action="ledger.cash_deposit", object_id=str(journal.pk), actor=teller).exists()


def test_deposit_of_zero_is_a_field_error(client, teller, alice_account):
    """An amount of 0 won is refused on the amount field and nothing is posted."""
    staff_login(client, teller)
    journals = Journal.objects.count()

    response = client.post(_url("cash_deposit", alice_account), {"amount": "0"})

    assert response.status_code == 200
    assert _form_error_codes(response, "amount") == ["min_value"]
    assert Journal.objects.count() == journals


def test_withdrawal_with_right_password_pays_out(client, teller, alice_account):
    """The right password pays out cash; entries sum to zero and the balance drops."""
    staff_login(client, teller)

    response = client.post(_url("cash_withdrawal", alice_account), {"amount": "300000", "password": ACCOUNT_PASSWORD})

    assert response.status_code == 302
    alice_account.refresh_from_db()
    assert alice_account.balance == 700_000
    journal = Journal.objects.get(kind=Journal.Kind.CASH_WITHDRAWAL)
    assert journal.entries.aggregate(total=Sum("amount"))["total"] == 0


def test_withdrawal_over_the_balance_is_refused_on_the_amount(client, teller, alice_account):
    """Asking for more than the balance is an error on the amount field and nothing moves."""
    staff_login(client, teller)

    response = client.post(_url("cash_withdrawal", alice_account), {"amount": "1000001", "password": ACCOUNT_PASSWORD})

    assert response.status_code == 200
    assert _form_error_codes(response, "amount") == ["insufficient_funds"]
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000


def test_four_wrong_passwords_are_counted_but_do_not_lock(client, teller, alice_account):
    """Each wrong password shows an error and counts; after four the account is not yet locked."""
    staff_login(client, teller)

    for attempt in range(1, 5):
        response = client.post(
            _url("cash_withdrawal", alice_account),
            {"amount": "10000", "password": WRONG_PASSWORD},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 200
        assert _form_error_codes(response, "password") == ["account_password_wrong"]
        alice_account.refresh_from_db()
        assert alice_account.password_failures == attempt

    assert "The account password is wrong." in response.content.decode()
    assert "4 / 5" in response.content.decode()
    assert alice_account.password_locked_at is None
    assert alice_account.balance == 1_000_000
    assert not Journal.objects.filter(kind=Journal.Kind.CASH_WITHDRAWAL).exists()


def test_fifth_wrong_password_locks_the_account_password(client, teller, alice_account):
    """The fifth wrong password locks it; then even the right password is refused as locked."""
    staff_login(client, teller)
    url = _url("cash_withdrawal", alice_account)
    for _attempt in range(4):
        client.post(url, {"amount": "10000", "password": WRONG_PASSWORD})

    fifth = client.post(url, {"amount": "10000", "password": WRONG_PASSWORD})
    right = client.post(url, {"amount": "10000", "password": ACCOUNT_PASSWORD})

    assert _form_error_codes(fifth, "password") == ["account_password_locked"]
    assert _form_error_codes(right, "password") == ["account_password_locked"]
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 5
    assert alice_account.password_locked_at is not None
    assert alice_account.balance == 1_000_000
    assert AuditEvent.objects.filter(action="account.password_locked").count() == 1


def _approved_reset(account: Account, teller: User, manager: User) -> StaffRequest:
    request = services.staff_request_create(
        kind=StaffRequest.Kind.ACCOUNT_PASSWORD_RESET, account=account, reason="비밀번호 분실", actor=teller
    )
    return services.staff_request_approve(request=request, actor=manager)


def test_a_teller_cannot_reset_a_password_without_a_managers_approval(client, teller, alice_account):
    """Without an approved request the reset page sends the teller back with a warning, GET or POST."""
    staff_login(client, teller)
    url = _url("password_reset", alice_account)

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    post = client.post(url, {"new_password1": "6021", "new_password2": "6021", "id_checked": "on"}, follow=True)

    assert page.status_code == 302
    assert page["Location"] == _url("change", alice_account)
    assert any(m.level_tag == "warning" for m in post.context["messages"])
    assert not AuditEvent.objects.filter(action="account.password_reset").exists()
    paid = client.post(_url("cash_withdrawal", alice_account), {"amount": "10000", "password": "6021"})
    assert paid.status_code == 200  # still the old password


def test_teller_resets_a_locked_password_after_approval_once(client, teller, manager, alice_account):
    """Request (with reason and ID check) → manager approves → the customer types the new password, once."""
    staff_login(client, teller)
    for _attempt in range(5):
        client.post(_url("cash_withdrawal", alice_account), {"amount": "10000", "password": WRONG_PASSWORD})
    requested = client.post(_url("request_password_reset", alice_account), {"reason": "5회 오류", "id_checked": "on"})
    assert requested.status_code == 302
    request = StaffRequest.objects.get(kind=StaffRequest.Kind.ACCOUNT_PASSWORD_RESET)
    assert request.state == StaffRequest.State.PENDING
    assert client.get(_url("password_reset", alice_account)).status_code == 302  # not yet approved
    staff_login(client, manager)
    assert client.post(reverse("admin:accounts_staffrequest_approve", args=[request.pk]), {}).status_code == 302
    staff_login(client, teller)
    page = client.get(_url("change", alice_account))
    assert _url("password_reset", alice_account) in page.content.decode()
    url = _url("password_reset", alice_account)

    unchecked = client.post(url, {"new_password1": "6021", "new_password2": "6021"})
    mismatch = client.post(url, {"new_password1": "6021", "new_password2": "6022", "id_checked": "on"})
    response = client.post(url, {"new_password1": "6021", "new_password2": "6021", "id_checked": "on"})

    assert _form_error_codes(unchecked, "id_checked") == ["required"]
    assert _form_error_codes(mismatch, "new_password2") == ["password_mismatch"]
    assert response.status_code == 302
    alice_account.refresh_from_db()
    assert alice_account.password_locked_at is None
    assert alice_account.password_failures == 0
    event = AuditEvent.objects.get(action="account.password_reset")
    assert event.details == {"was_locked": True, "staff_request": request.pk}
    assert event.actor == teller
    paid = client.post(_url("cash_withdrawal", alice_account), {"amount": "10000", "password": "6021"})
    assert paid.status_code == 302
    again = client.post(url, {"new_password1": "7395", "new_password2": "7395", "id_checked": "on"})
    assert again.status_code == 302 and again["Location"] == _url("change", alice_account)
    assert AuditEvent.objects.filter(action="account.password_reset").count() == 1


def test_weak_new_password_is_refused_on_the_field_and_the_approval_stays_usable(
    client, teller, manager, alice_account
):
    """Four equal digits are refused by the service; the approved request is not used up."""
    request = _approved_reset(alice_account, teller, manager)
    staff_login(client, teller)

    response = client.post(
        _url("password_reset", alice_account), {"new_password1": "7777", "new_password2": "7777", "id_checked": "on"}
    )

    assert _form_error_codes(response, "new_password1") == ["account_password_weak"]
    request.refresh_from_db()
    assert request.state == StaffRequest.State.APPROVED


def test_another_teller_cannot_use_someone_elses_approved_reset(client, teller, manager, alice_account):
    """The approval belongs to the teller who asked (and the manager who approved), not to the branch."""
    from django.contrib.auth.models import Group

    _approved_reset(alice_account, teller, manager)
    other = User.objects.create_user(username="teller2", password=STAFF_PASSWORD, is_staff=True)
    other.groups.add(Group.objects.get(name="Teller"))
    staff_login(client, other)

    response = client.post(
        _url("password_reset", alice_account), {"new_password1": "6021", "new_password2": "6021", "id_checked": "on"}
    )

    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="account.password_reset").exists()


def test_staff_without_cash_or_reset_permission_get_403(client, viewer, alice_account):
    """Staff with view-only access get 403 on the deposit, withdrawal and reset pages, and nothing moves."""
    staff_login(client, viewer)

    for name in ("cash_deposit", "cash_withdrawal", "password_reset", "request_password_reset"):
        assert client.get(_url(name, alice_account)).status_code == 403
    response = client.post(_url("cash_deposit", alice_account), {"amount": "1000"})

    assert response.status_code == 403
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000
    page = client.get(_url("change", alice_account))
    assert page.status_code == 200
    assert _url("cash_deposit", alice_account) not in page.content.decode()


def test_custom_pages_need_a_staff_login(client, alice_account):
    """Anonymous visitors are sent to the admin login page."""
    response = client.get(_url("cash_deposit", alice_account))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_account_page_is_read_only_with_recent_entries_and_task_links(client, teller, alice_account):
    """The account page shows recent entries and links to the cash and reset pages; it cannot be saved."""
    staff_login(client, teller)

    page = client.get(_url("change", alice_account))
    post = client.post(_url("change", alice_account), {"status": "closed"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "1,000,000" in html
    for name in ("cash_deposit", "cash_withdrawal", "request_password_reset"):
        assert _url(name, alice_account) in html
    assert _url("password_reset", alice_account) not in html  # only once a reset is approved
    assert 'name="_save"' not in html
    assert post.status_code == 403
    alice_account.refresh_from_db()
    assert alice_account.status == Account.Status.ACTIVE


def test_account_search_by_number_and_holder(client, teller, alice_account, acme, demand_product):
    """The account list finds an account by its number (with or without dashes) and by the holder's name."""
    staff_login(client, teller)
    url = reverse("admin:accounts_account_changelist")

    for term in (alice_account.number, alice_account.number_display, "앨리스"):
        assert list(client.get(url, {"q": term}).context["cl"].result_list) == [alice_account]


def test_nobody_deletes_accounts_or_entries(client, manager, alice_account):
    """Deleting an account or a ledger entry is 403 for everyone."""
    staff_login(client, manager)
    entry = LedgerEntry.objects.filter(account=alice_account).first()

    assert client.post(_url("delete", alice_account), {"post": "yes"}).status_code == 403
    assert (
        client.post(reverse("admin:accounts_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    assert Account.objects.filter(pk=alice_account.pk).exists()
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_an_internal_account_page_shows_the_live_figure_beside_the_last_roll_up(client, manager, alice_account):
    """Branch cash legs are appended unlocked; staff see the rolled-up balance and today's live one."""
    from accounts.services.ledger import branch_cash_account

    cash = branch_cash_account(alice_account.branch)
    staff_login(client, manager)
    page = client.get(reverse("admin:accounts_account_change", args=[cash.pk])).content.decode()
    # The opening deposit of 1,000,000 won left the branch's cash leg at -1,000,000 before any roll-up.
    assert "-1,000,000" in page
    customer_page = client.get(reverse("admin:accounts_account_change", args=[alice_account.pk])).content.decode()
    assert "live_balance_display" not in customer_page and "-1,000,000" not in customer_page
