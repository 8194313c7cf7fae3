"""Banking-session pages under /banking/ (included by ``accounts.urls``; names without a namespace).

/banking/accounts/: an account's history (거래내역) and its CSV statement, a transfer's detail.
"""

from django.urls import URLPattern, path

from accounts import history_views

urlpatterns: list[URLPattern] = [
    path("transfers/<str:reference>/", history_views.transfer_detail, name="history_transfer_detail"),
    path("<str:number>/", history_views.account_history, name="account_history"),
    path("<str:number>/csv/", history_views.account_history_csv, name="account_history_csv"),
]
