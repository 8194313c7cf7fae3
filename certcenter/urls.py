"""Public PKI endpoints (/pki/): our CA certificates, the CRL and the OCSP responder."""

from django.urls import path, re_path

from certcenter import views

app_name = "pki"

urlpatterns = [
    path("ca/", views.ca_index, name="ca_index"),
    re_path(r"^ca/(?P<role>root|issuing)\.(?P<encoding>der|pem)$", views.ca_certificate, name="ca_certificate"),
    path("crl/", views.crl, name="crl"),
    path("ocsp", views.ocsp_post, name="ocsp"),
    # RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}
    re_path(r"^ocsp/(?P<encoded>.+)$", views.ocsp_get, name="ocsp_get"),
]
