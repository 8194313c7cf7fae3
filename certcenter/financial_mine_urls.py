"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
the holder's financial certificate page (status, renewal, revocation), /certificates/financial/mine/."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
