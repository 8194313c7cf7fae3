"""Shared helpers for the staff admin. Imports no app (apps import this).

* ``bankportal.masking`` (used here): any RRN-shaped run in text becomes ``900101-1******``.
* ``ResidentNumberSafeSearchMixin``: a changelist never echoes a resident registration number
  typed into its search box. Django shows the search term back in the box, in sort, filter
  and pagination links and in ``_changelist_filters`` on every result link, so the only safe
  answer is to redirect to a URL without it before rendering anything.
* ``ReadOnlyAdminMixin``: viewable, never added, changed or deleted through the admin.
* ``StaffPagesMixin``: custom pages on one record (a branch task with a form) and plain-form add
  pages, rendered in the admin's own look with errors next to their fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import update_wrapper
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from bankportal.forms import add_service_error
from bankportal.masking import contains_rrn, mask_rrns


def changelist_redirect(request: HttpRequest, params: QueryDict) -> HttpResponseRedirect:
    query = params.urlencode()
    return HttpResponseRedirect(f"{request.path}?{query}" if query else request.path)


class ResidentNumberSafeSearchMixin:
    """Redirect a changelist search for a resident registration number to one without it.

    The default keeps the search but with the number masked (so it finds nothing by number);
    an admin that can look a number up (the customer admin, via the blind index) overrides
    ``resident_number_search_redirect``.
    """

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        term = request.GET.get(SEARCH_VAR, "")
        if contains_rrn(term):
            return self.resident_number_search_redirect(request, term)
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def resident_number_search_redirect(self, request: HttpRequest, term: str) -> HttpResponseRedirect:
        params = request.GET.copy()
        params[SEARCH_VAR] = mask_rrns(term)
        return changelist_redirect(request, params)


class ReadOnlyAdminMixin:
    """Staff with the view permission read these rows; nobody adds, changes or deletes them here."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object

Label = str | Promise  # a translatable string, evaluated when the page is rendered


def _admin_form(form: forms.Form, fieldsets: Any, model_admin: admin.ModelAdmin[Any]) -> helpers.AdminForm:
    # The stubs ask for a ModelForm; the admin renders plain forms too (as its password pages do).
    return helpers.AdminForm(form, fieldsets, {}, model_admin=model_admin)  # type: ignore[arg-type]


class StaffPagesMixin(_ModelAdmin):
    """Custom admin pages: URL wrapping, object lookup with permission checks, and rendering."""

    staff_form_template = "admin/bankportal/staff_form.html"

    def _wrap(self, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        def wrapper(*args: Any, **kwargs: Any) -> HttpResponse:
            # Staff login, CSRF protection and never_cache, like the admin's own views.
            return self.admin_site.admin_view(view)(*args, **kwargs)

        wrapper.model_admin = self  # type: ignore[attr-defined]
        return update_wrapper(wrapper, view)

    def _url(self, name: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args, current_app=self.admin_site.name
        )

    def _require_perm(self, request: HttpRequest, perm: str) -> None:
        if not request.user.has_perm(perm):
            raise PermissionDenied

    def _get_viewable(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            raise Http404(_("No such record."))
        if not self.has_view_permission(request, obj):  # type: ignore[attr-defined]
            raise PermissionDenied
        return obj

    def render_staff_form(
        self,
        request: HttpRequest,
        *,
        obj: Model,
        form: forms.Form,
        title: Label,
        submit_label: Label,
        summary: Sequence[tuple[Label, Any]] = (),
        entries: Sequence[dict[str, Any]] = (),
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": title,
            "subtitle": str(obj),
            "form": form,
            "adminform": _admin_form(form, [(None, {"fields": list(form.fields)})], self),
            "errors": helpers.AdminErrorList(form, []),  # type: ignore[arg-type]
            "media": self.media + form.media,  # type: ignore[attr-defined]
            "summary": summary,
            "entries": entries,
            "submit_label": submit_label,
            "has_view_permission": True,
            "change_url": self._url("change", obj.pk),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.staff_form_template, context)

    def staff_task_view(
        self,
        request: HttpRequest,
        *,
        obj: Model,
        form_class: type[forms.Form],
        perform: Callable[[dict[str, Any]], Any],
        success_message: Callable[[Any, dict[str, Any]], str],
        title: Label,
        submit_label: Label,
        summary: Sequence[tuple[Label, Any]] | Callable[[], Sequence[tuple[Label, Any]]] = (),
        entries: Sequence[dict[str, Any]] = (),
    ) -> HttpResponse:
        """One branch task on ``obj``: on a valid POST call ``perform`` (a service) with the cleaned
        data. A refusal goes back onto the form next to its field (the form's ``FIELD_BY_CODE``);
        success redirects to the record with ``success_message(result, data)``.

        Adds no transaction of its own: services decide (a wrong account password must stay counted).
        A callable ``summary`` is evaluated at render time, so it shows the record after the attempt.
        """
        form = form_class(request.POST) if request.method == "POST" else form_class()
        if request.method == "POST" and form.is_valid():
            try:
                result = perform(form.cleaned_data)
            except ValidationError as exc:
                add_service_error(form, exc, getattr(form, "FIELD_BY_CODE", None))
            else:
                self.message_user(request, success_message(result, form.cleaned_data), messages.SUCCESS)  # type: ignore[attr-defined]
                return HttpResponseRedirect(self._url("change", obj.pk))
        return self.render_staff_form(
            request,
            obj=obj,
            form=form,
            title=title,
            submit_label=submit_label,
            summary=summary() if callable(summary) else summary,
            entries=entries,
        )

    def service_add_view(
        self,
        request: HttpRequest,
        *,
        form: forms.Form,
        perform: Callable[[dict[str, Any], Any], Model],
        success_messages: Callable[[Any, dict[str, Any]], Sequence[tuple[int, str]]],
        title: Label,
        fieldsets: Any,
        form_url: str = "",
    ) -> HttpResponse:
        """An add page whose record a service creates: ``perform(cleaned_data, form)`` on a valid
        POST, refusals back onto the form, then the admin log entry, the messages and a redirect
        to the new record's page."""
        if not self.has_add_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        if request.method == "POST" and form.is_valid():
            try:
                obj = perform(form.cleaned_data, form)
            except ValidationError as exc:
                add_service_error(form, exc, getattr(form, "FIELD_BY_CODE", None))
            else:
                self.log_addition(request, obj, [{"added": {}}])  # type: ignore[attr-defined]
                for level, message in success_messages(obj, form.cleaned_data):
                    self.message_user(request, message, level)  # type: ignore[attr-defined]
                return HttpResponseRedirect(self._url("change", obj.pk))
        return self.render_add_form(request, form, fieldsets, title, form_url)

    def render_add_form(
        self, request: HttpRequest, form: forms.Form, fieldsets: Any, title: Label, form_url: str = ""
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "adminform": _admin_form(form, fieldsets, self),
            "object_id": None,
            "original": None,
            "to_field": None,
            "media": self.media + form.media,  # type: ignore[attr-defined]
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),  # type: ignore[arg-type]
            "preserved_filters": self.get_preserved_filters(request),  # type: ignore[attr-defined]
            # One "Save" button: the new record's page is where the teller continues.
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)  # type: ignore[attr-defined]
