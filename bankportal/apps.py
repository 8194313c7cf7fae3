"""The admin's app config, pointing Django at our admin site.

``bankportal`` is deliberately not an installed app (that would autodiscover ``bankportal/admin.py``,
which holds helpers, and make the plumbing an app with models and migrations of its own). This
module only holds an ``AppConfig`` subclass for ``django.contrib.admin``: listed in
``INSTALLED_APPS`` instead of ``"django.contrib.admin"``, it keeps the admin's label, templates
and autodiscovery, and makes ``django.contrib.admin.site`` (where every app registers with
``@admin.register``) a ``BankAdminSite``: the OTP-protected staff admin. Django's documented way to
override the default admin site.
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class BankAdminConfig(AdminConfig):
    default_site = "bankportal.admin_site.BankAdminSite"
