"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
the reissue flow (인증서 재발급), /certificates/reissue/ → reason → medium → phone → certificate."""

from django.urls import URLPattern, path

from certcenter import reissue

urlpatterns: list[URLPattern] = [
    path("", reissue.reissue_identify, name="reissue"),
    path("reason/", reissue.reissue_reason, name="reissue_reason"),
    path("medium/", reissue.reissue_medium, name="reissue_medium"),
    path("phone/", reissue.reissue_phone, name="reissue_phone"),
    path("phone/send/", reissue.reissue_phone_send, name="reissue_phone_send"),
    path("certificate/", reissue.reissue_certificate, name="reissue_certificate"),
    path("certificate/request/", reissue.reissue_request, name="reissue_request"),
]
