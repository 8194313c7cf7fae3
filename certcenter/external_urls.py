"""Certificate-centre pages under /certificates/ (included by ``certcenter.pages_urls``, same namespace):
registering another institution's certificate (타기관 인증서 등록), /certificates/other/ → medium → phone →
certificate; and deleting such a registration from My certificates."""

from django.urls import URLPattern, path

from certcenter import external, mine

urlpatterns: list[URLPattern] = [
    path("", external.external_identify, name="external"),
    path("medium/", external.external_medium, name="external_medium"),
    path("phone/", external.external_phone, name="external_phone"),
    path("phone/send/", external.external_phone_send, name="external_phone_send"),
    path("certificate/", external.external_certificate, name="external_certificate"),
    path("certificate/request/", external.external_request, name="external_request"),
    path("certificate/financial/", external.external_financial, name="external_financial"),
    path("<int:pk>/delete/", mine.external_deregister, name="external_deregister"),
]
