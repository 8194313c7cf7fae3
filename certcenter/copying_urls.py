"""Copy a certificate to another device (/certificates/copy/...): names in the ``certcenter`` namespace
(``certcenter.pages_urls`` includes this module)."""

from django.urls import URLPattern, path

from certcenter import copying

urlpatterns: list[URLPattern] = [
    path("receive/", copying.receive_page, name="copy_receive"),
    path("receive/start/", copying.start, name="copy_start"),
    path("receive/status/", copying.status, name="copy_status"),
    path("receive/pickup/", copying.pickup, name="copy_pickup"),
    path("send/", copying.send_page, name="copy_send"),
    path("send/upload/", copying.upload, name="copy_upload"),
]
