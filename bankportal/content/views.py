"""Public pages: home, notices (공지사항) and FAQ (자주 묻는 질문); the signed-in 1:1 inquiry board
(1:1 문의). Reads live in ``selectors``, writes in ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from bankportal.content import selectors, services
from bankportal.content.forms import InquiryForm
from bankportal.forms import add_service_error

MSG_INQUIRY_SENT = gettext_lazy("Your inquiry has been sent. We will answer it here.")

NOTICES_PER_PAGE = 10
HOME_NOTICES = 5


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "content/home.html", {"notices": selectors.notice_list_latest(limit=HOME_NOTICES)})


@require_safe
def notice_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notice_list_published(), NOTICES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "content/notice_list.html", {"page_obj": page, "notices": page.object_list})


@require_safe
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = selectors.notice_get_published(pk=pk)
    if notice is None:
        raise Http404(_("No such notice."))
    return render(request, "content/notice_detail.html", {"notice": notice})


@require_safe
def faq(request: HttpRequest) -> HttpResponse:
    return render(request, "content/faq.html", {"groups": selectors.faq_groups()})


INQUIRIES_PER_PAGE = 10


@login_required
@require_safe
def inquiry_list(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own 1:1 inquiries, with whether each has been answered."""
    page = Paginator(selectors.inquiry_list_for(request.user), INQUIRIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "content/inquiry_list.html", {"page_obj": page, "inquiries": page.object_list})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def inquiry_new(request: HttpRequest) -> HttpResponse:
    form = InquiryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            inquiry = services.inquiry_create(
                actor=request.user, title=form.cleaned_data["title"], body=form.cleaned_data["body"]
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, MSG_INQUIRY_SENT)
            return redirect("inquiry_detail", pk=inquiry.pk)
    return render(request, "content/inquiry_form.html", {"form": form})


@login_required
@require_safe
def inquiry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    inquiry = selectors.inquiry_get_for(request.user, pk=pk)
    if inquiry is None:
        raise Http404(_("No such inquiry."))
    return render(request, "content/inquiry_detail.html", {"inquiry": inquiry})
