from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OtpConfig(AppConfig):
    name = "otp"
    verbose_name = _("Security media")

    def ready(self) -> None:
        # Registers otp's staff-request executors (accounts never imports otp).
        import otp.services  # noqa: F401
