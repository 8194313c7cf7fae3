from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Customers and accounts")

    def ready(self) -> None:
        from accounts.checks import interbank_simulator_in_production

        checks.register(interbank_simulator_in_production, checks.Tags.security, deploy=True)
