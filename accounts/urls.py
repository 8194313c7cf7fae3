from django.urls import path

from accounts import views

urlpatterns = [
    path("products/", views.products, name="products"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("login-history/", views.login_history, name="login_history"),
    path("session/extend/", views.session_extend, name="session_extend"),
    path("banking/", views.banking_home, name="banking_home"),
]
