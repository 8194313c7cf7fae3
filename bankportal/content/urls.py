from django.urls import path

from bankportal.content import views

urlpatterns = [
    path("", views.home, name="home"),
    path("notices/", views.notice_list, name="notice_list"),
    path("notices/<int:pk>/", views.notice_detail, name="notice_detail"),
    path("faq/", views.faq, name="faq"),
    path("inquiries/", views.inquiry_list, name="inquiry_list"),
    path("inquiries/new/", views.inquiry_new, name="inquiry_new"),
    path("inquiries/<int:pk>/", views.inquiry_detail, name="inquiry_detail"),
]
