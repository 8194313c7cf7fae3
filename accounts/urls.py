from django.urls import path

from accounts import views

urlpatterns = [
    path("products/", views.products, name="products"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]
