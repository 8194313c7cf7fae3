"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
the financial certificate's issue flow (금융인증서 발급), /certificates/financial/issue/."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
