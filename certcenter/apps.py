from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertcenterConfig(AppConfig):
    name = "certcenter"
    verbose_name = _("Certificate centre")
