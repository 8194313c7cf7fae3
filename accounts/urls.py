from django.urls import include, path

from accounts import ebanking_views, views

urlpatterns = [
    path("products/", views.products, name="products"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("login-history/", views.login_history, name="login_history"),
    path("session/extend/", views.session_extend, name="session_extend"),
    path("banking/", views.banking_home, name="banking_home"),
    # Transfers (이체), account history and statements (거래내역), transfer limits (이체한도).
    path("banking/transfer/", include("accounts.transfer_urls")),
    path("banking/accounts/", include("accounts.history_urls")),
    path("banking/limits/", include("accounts.limits_urls")),
    # E-banking agreement flows (anonymous). The branch receipt prints /ebanking/register/.
    path("ebanking/register/", ebanking_views.agreement_register, name="agreement_register"),
    path("ebanking/register/medium/", ebanking_views.agreement_register_medium, name="agreement_register_medium"),
    path("ebanking/register/login/", ebanking_views.agreement_register_login, name="agreement_register_login"),
    path("ebanking/register/done/", ebanking_views.agreement_register_done, name="agreement_register_done"),
    path("find-id/", ebanking_views.agreement_find_id, name="agreement_find_id"),
    # Under the security centre's /security/ prefix (otp.urls has no release/ paths; this file is
    # included before it).
    path("security/release/", ebanking_views.agreement_release, name="agreement_release"),
    path("security/release/medium/", ebanking_views.agreement_release_medium, name="agreement_release_medium"),
    path("security/release/phone/", ebanking_views.agreement_release_phone, name="agreement_release_phone"),
    path(
        "security/release/phone/send/",
        ebanking_views.agreement_release_phone_send,
        name="agreement_release_phone_send",
    ),
    path("security/release/sign/", ebanking_views.agreement_release_sign, name="agreement_release_sign"),
    path("security/release/done/", ebanking_views.agreement_release_done, name="agreement_release_done"),
]
