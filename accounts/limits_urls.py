"""Banking-session pages under /banking/ (included by ``accounts.urls``; names without a namespace)."""

from django.urls import URLPattern, path

from accounts import limits_views

urlpatterns: list[URLPattern] = [
    # Transfer limits (이체한도): view and change; a raise is confirmed with the security medium.
    path("", limits_views.limits, name="transfer_limits"),
    path("raise/", limits_views.limits_raise, name="transfer_limits_raise"),
]
