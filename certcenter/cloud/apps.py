from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinancialCloudConfig(AppConfig):
    name = "certcenter.cloud"
    label = "fincloud"
    verbose_name = _("Financial certificate cloud")
