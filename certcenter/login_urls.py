"""Certificate login endpoints (/certificates/login/...): JSON for the login page's script."""

from django.urls import path

from certcenter import login_views

app_name = "certificate_login"

urlpatterns = [
    path("login/challenge/", login_views.login_challenge, name="challenge"),
    path("login/", login_views.certificate_login, name="login"),
]
