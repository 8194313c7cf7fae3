"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
the financial certificate's issue flow (금융인증서 발급), /certificates/financial/issue/ → phone → medium →
details → PIN → done."""

from django.urls import URLPattern, path

from certcenter import financial_pages

urlpatterns: list[URLPattern] = [
    path("", financial_pages.financial_issue_identify, name="financial_issue"),
    path("phone/", financial_pages.financial_issue_phone, name="financial_issue_phone"),
    path("phone/send/", financial_pages.financial_issue_phone_send, name="financial_issue_phone_send"),
    path("medium/", financial_pages.financial_issue_medium, name="financial_issue_medium"),
    path("details/", financial_pages.financial_issue_details, name="financial_issue_details"),
    path("pin/", financial_pages.financial_issue_pin, name="financial_issue_pin"),
    path("done/", financial_pages.financial_issue_done, name="financial_issue_done"),
]
