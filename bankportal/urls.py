from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from bankportal import views


class FaviconRedirect(RedirectView):
    """Browsers ask for /favicon.ico on pages without an icon link (the admin); send the logo."""

    permanent = False

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("images/logo.svg")


urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", FaviconRedirect.as_view()),
    path("i18n/", include("django.conf.urls.i18n")),
    # The OTP-protected staff admin (bankportal.admin_site.BankAdminSite, the default site).
    path("admin/", admin.site.urls),
    path("", include("bankportal.content.urls")),
    path("", include("accounts.urls")),
    path("security/", include("otp.urls")),
    path("pki/", include("certcenter.urls")),
    path("certificates/", include("certcenter.login_urls")),
    path("certificates/", include("certcenter.pages_urls")),
]
