from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from bankportal import views

admin.site.site_header = _("Branch administration")
admin.site.site_title = _("Branch administration")
admin.site.index_title = _("Branch work")


class FaviconRedirect(RedirectView):
    """Browsers ask for /favicon.ico on pages without an icon link (the admin); send the logo."""

    permanent = False

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("images/logo.svg")


urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", FaviconRedirect.as_view()),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("bankportal.content.urls")),
    path("", include("accounts.urls")),
]
