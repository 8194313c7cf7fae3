"""The customer's security centre (보안센터), mounted at ``/security/``."""

from django.urls import path

from otp import views

app_name = "security"

urlpatterns = [
    path("", views.security_centre, name="centre"),
    path("otp/digital/", views.digital_otp, name="digital_otp"),
    path("otp/digital/phone/send/", views.digital_otp_phone_send, name="digital_otp_phone_send"),
    path("otp/digital/phone/verify/", views.digital_otp_phone_verify, name="digital_otp_phone_verify"),
    path("otp/digital/start/", views.digital_otp_start, name="digital_otp_start"),
    path("otp/register/", views.otp_register, name="otp_register"),
    path("accident/", views.accident_report, name="accident_report"),
]
