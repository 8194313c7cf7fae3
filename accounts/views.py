"""Public deposit-product information and web-member (웹회원) login/logout.

Web-member login gives product information and board inquiries only; banking needs
certificate login, which the certificate centre provides. The e-banking agreement pages
(registration, ID lookup, online release) are in ``accounts.ebanking_views``.
"""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.forms import EbankingAuthenticationForm, WebMemberSignupForm
from accounts.selectors import customer_accounts_overview, deposit_products_on_sale
from accounts.services.agreements import agreement_record_use, agreement_record_wrong_entry, agreement_web_actor
from accounts.services.limits import remaining_today
from accounts.services.web_members import web_member_create
from bankportal.actors import system_actor
from bankportal.forms import add_service_error
from bankportal.session_levels import banking_required
from bankportal.sessions import previous_signin, signin_history
from otp.services.verification import security_tier
from otp.views import TIER_LABELS

MSG_SIGNED_UP = _("Welcome! Your web membership is ready. Log in with your new user ID.")
MSG_SESSION_EXTENDED = _("Your session has been extended.")
ERR_NOT_A_CUSTOMER = _(
    "Banking pages show a customer's own accounts, and this login belongs to no customer. "
    "Log in with your internet-banking user ID, or visit a branch to open an account."
)
LOGIN_HISTORY_LENGTH = 20


@require_safe
def products(request: HttpRequest) -> HttpResponse:
    """Deposit products on sale, in display order."""
    return render(request, "accounts/products.html", {"products": deposit_products_on_sale()})


class LoginView(auth_views.LoginView):
    """Sign-in, aware of the e-banking agreement (``EbankingAuthenticationForm``).

    A wrong login password for a user ID of an active agreement counts a wrong entry (the 5th
    suspends it and texts the customer); a right one resets the count and records the use
    (dormancy). A suspended agreement's user is refused with the reason and where to release it;
    an ended one's with a clear message. Web members and staff sign in as before. The sign-in
    throttle (``bankportal/throttling.py``) runs first, on every attempt, as before.
    """

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = EbankingAuthenticationForm

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        agreement = getattr(form, "active_agreement", None)
        if agreement is not None:
            # Suspended or ended in the same instant by another request: nothing to record.
            with contextlib.suppress(ValidationError):
                agreement_record_use(agreement=agreement, actor=form.get_user())
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        agreement = getattr(form, "wrong_password_agreement", None)
        if agreement is not None:
            agreement_record_wrong_entry(agreement=agreement, actor=agreement_web_actor(), what="login_password")
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5); the header's log-out button posts here."""


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Web-member sign-up (웹회원 가입): user ID, password (rules shown up front), name, email."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = WebMemberSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            web_member_create(
                actor=system_actor("web-signup"),
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
        except ValidationError as error:
            if not hasattr(error, "error_dict"):  # the password validators' messages
                error = ValidationError({"password1": error.error_list})
            add_service_error(form, error)
        else:
            messages.success(request, MSG_SIGNED_UP)
            return redirect("login")
    return render(
        request, "registration/signup.html", {"form": form, "password_rules": password_validators_help_texts()}
    )


@login_required
@require_safe
def login_history(request: HttpRequest) -> HttpResponse:
    """로그인 기록: the signed-in user's recent sign-ins and failed attempts, from the audit trail."""
    records = signin_history(request.user, limit=LOGIN_HISTORY_LENGTH)
    return render(request, "registration/login_history.html", {"records": records})


@require_POST
def session_extend(request: HttpRequest) -> HttpResponse:
    """The header's "extend" button. Any request counts as activity (``SessionTimeoutMiddleware``
    has already refreshed it); this one answers the script with the seconds now left, or sends a
    browser without the script back where it was."""
    if not request.user.is_authenticated:
        return JsonResponse({"ended": True}, status=401)
    seconds = getattr(request, "session_seconds_left", settings.SESSION_IDLE_SECONDS)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"seconds": seconds})
    messages.success(request, MSG_SESSION_EXTENDED)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = settings.LOGIN_REDIRECT_URL
    return redirect(target)


@banking_required
@never_cache
@require_safe
def banking_home(request: HttpRequest) -> HttpResponse:
    """The banking session's landing page (계좌 조회): every deposit account with its product, masked
    number, balance and last movements; the previous sign-in; the security tier and what is left of
    today's transfer limit. A fixed handful of indexed queries, whatever the number of accounts."""
    customer = getattr(request.user, "customer", None)  # the guard has let only a signed-in user through
    if customer is None:
        return render(request, "registration/banking_refused.html", {"message": ERR_NOT_A_CUSTOMER}, status=403)
    tier = security_tier(customer)
    # SessionTimeoutMiddleware keeps it in the session at sign-in; only a session's first request reads it here.
    previous = request.previous_signin if hasattr(request, "previous_signin") else previous_signin(request.user)
    return render(
        request,
        "accounts/banking_home.html",
        {
            "overviews": customer_accounts_overview(customer.pk),
            "previous_signin": previous,
            "tier": tier.value,
            "tier_label": TIER_LABELS[tier],
            "remaining": remaining_today(customer, tier=tier),
        },
    )
