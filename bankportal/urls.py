from django.contrib import admin
from django.urls import include, path

from bankportal import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("bankportal.content.urls")),
    path("", include("accounts.urls")),
]
