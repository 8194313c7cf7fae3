"""Reads for the public content pages (notices, FAQ). Time comes in as an argument."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from bankportal.content.models import FaqEntry, Inquiry, Notice


def notice_list_published(*, now: dt.datetime | None = None) -> QuerySet[Notice]:
    """Published notices whose publication time has come: pinned first, newest next."""
    return Notice.objects.published(now=now)


def notice_list_latest(*, limit: int = 5, now: dt.datetime | None = None) -> list[Notice]:
    return list(notice_list_published(now=now)[:limit])


def notice_get_published(*, pk: int, now: dt.datetime | None = None) -> Notice | None:
    """The notice if the public may see it, else ``None`` (unpublished and future ones are hidden)."""
    return notice_list_published(now=now).filter(pk=pk).first()


@dataclass(frozen=True)
class FaqGroup:
    category: str
    label: str
    entries: list[FaqEntry]


def faq_groups(*, now: dt.datetime | None = None) -> list[FaqGroup]:
    """Published FAQ entries grouped by category, in the order the categories are declared."""
    by_category: dict[str, list[FaqEntry]] = {}
    for entry in FaqEntry.objects.published(now=now).order_by("display_order", "id"):
        by_category.setdefault(entry.category, []).append(entry)
    return [
        FaqGroup(category=value, label=str(label), entries=by_category[value])
        for value, label in FaqEntry.Category.choices
        if value in by_category
    ]


def inquiry_list_for(user: Any) -> QuerySet[Inquiry]:
    """The user's own inquiries, newest first."""
    return Inquiry.objects.filter(author_id=user.pk).order_by("-created_at", "-id")


def inquiry_get_for(user: Any, *, pk: int) -> Inquiry | None:
    """One of the user's own inquiries; someone else's is ``None`` (as if it did not exist)."""
    return Inquiry.objects.filter(author_id=user.pk, pk=pk).first()
