from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertcenterConfig(AppConfig):
    name = "certcenter"
    verbose_name = _("Certificate centre")

    def ready(self) -> None:
        # Registers certcenter's staff-request executors (accounts never imports certcenter).
        import certcenter.services  # noqa: F401
