"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
sign-in with the financial certificate from any device (name, mobile number, PIN), /certificates/financial/signin/."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
