import pytest

from accounts.models import Account


@pytest.mark.django_db
def test_personas_build_through_services(alice_account, minnie, acme, manager):
    """The shared personas exist and the adult's opening deposit reached the account."""
    assert alice_account.balance == 1_000_000
    assert Account.objects.get(pk=alice_account.pk).balance == 1_000_000
    assert minnie.solo_minor_cap is True
    assert acme.brn
