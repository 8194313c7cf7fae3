"""Public pages: home, notices (공지사항) and FAQ (자주 묻는 질문). Reads live in ``selectors``."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from bankportal.content import selectors

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
