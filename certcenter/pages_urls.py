"""The certificate-centre pages (/certificates/...): the centre, the certificate login page (its JSON
endpoints are ``certcenter.login_urls``, /certificates/login/...) and the issue flow."""

from django.urls import include, path

from certcenter import mine, pages

app_name = "certcenter"

urlpatterns = [
    path("", pages.centre, name="centre"),
    path("signin/", pages.certificate_login_page, name="signin"),
    path("issue/", pages.issue_identify, name="issue"),
    path("issue/medium/", pages.issue_medium, name="issue_medium"),
    path("issue/certificate/", pages.issue_certificate, name="issue_certificate"),
    path("issue/certificate/request/", pages.issue_request, name="issue_request"),
    # My certificates (내 인증서 관리): list, revoke, renew (certificate session only).
    path("mine/", mine.my_certificates, name="mine"),
    path("mine/<str:serial>/revoke/", mine.revoke, name="mine_revoke"),
    path("mine/<str:serial>/renew/", mine.renew, name="mine_renew"),
    path("mine/<str:serial>/renew/request/", mine.renew_request, name="mine_renew_request"),
    # Reissue (재발급), other institutions' certificates (타기관 인증서 등록), copy to another device (인증서 복사):
    # their URL modules add names to this namespace (certcenter:...).
    path("reissue/", include("certcenter.reissue_urls")),
    path("other/", include("certcenter.external_urls")),
    path("copy/", include("certcenter.copying_urls")),
    # The financial certificate (금융인증서): issue, sign-in with the PIN from any device, and the
    # holder's own page (status, renewal, revocation). Names in this namespace too.
    path("financial/issue/", include("certcenter.financial_issue_urls")),
    path("financial/signin/", include("certcenter.financial_login_urls")),
    path("financial/mine/", include("certcenter.financial_mine_urls")),
]
