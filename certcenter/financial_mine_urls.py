"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
the holder's financial certificate page (status, renewal, revocation), /certificates/financial/mine/."""

from django.urls import URLPattern, path

from certcenter import financial_mine

urlpatterns: list[URLPattern] = [
    path("", financial_mine.my_financial_certificate, name="financial_mine"),
    path("renew/", financial_mine.renew, name="financial_mine_renew"),
    path("revoke/", financial_mine.revoke, name="financial_mine_revoke"),
]
