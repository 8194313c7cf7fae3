"""Customer-facing content forms: the 1:1 inquiry."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class InquiryForm(forms.Form):
    """A 1:1 inquiry (1:1 문의): title and question."""

    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Question"), max_length=4000, widget=forms.Textarea(attrs={"rows": 8}))
