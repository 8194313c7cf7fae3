"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
