"""Banking-session pages under /banking/transfer/ (included by ``accounts.urls``; names without a namespace)."""

from django.urls import URLPattern, path

from accounts import transfer_views

urlpatterns: list[URLPattern] = [
    path("", transfer_views.transfer, name="transfer"),
    path("<uuid:key>/confirm/", transfer_views.transfer_confirm, name="transfer_confirm"),
    path("receipt/<str:reference>/", transfer_views.transfer_receipt, name="transfer_receipt"),
]
