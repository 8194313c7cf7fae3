"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
sign-in with the financial certificate from any device (name, mobile number, PIN), /certificates/financial/signin/."""

from django.urls import URLPattern, path

from certcenter import financial_login

urlpatterns: list[URLPattern] = [
    path("", financial_login.financial_signin, name="financial_signin"),
]
