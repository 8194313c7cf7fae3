"""Public deposit-product information and web-member (웹회원) login/logout.

Web-member login gives product information and board inquiries only; banking needs
certificate login, which the certificate centre provides.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.selectors import deposit_products_on_sale


@require_safe
def products(request: HttpRequest) -> HttpResponse:
    """Deposit products on sale, in display order."""
    return render(request, "accounts/products.html", {"products": deposit_products_on_sale()})


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5); the header's log-out button posts here."""
