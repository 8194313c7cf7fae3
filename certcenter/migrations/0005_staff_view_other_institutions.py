"""Staff may view the trusted CAs of other institutions and the certificates customers registered
under them (read-only in the admin; operations change trust with ``ca_trust_add`` / ``ca_trust_remove``)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_trustedauthority", "view_externalcertificate"]
# Tellers answer customers' questions about a registered certificate; branch managers oversee them.
GRANTS = {"Teller": VIEW, "Branch manager": VIEW}


def grant_other_institution_view_permissions(apps, schema_editor):
    """Also to be run by tests after transactional tests flush the groups."""
    app_config = apps.get_app_config("certcenter")
    original = getattr(app_config, "models_module", None)
    app_config.models_module = original or True
    try:
        create_permissions(app_config, verbosity=0, apps=apps)
    finally:
        app_config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="certcenter", codename__in=codenames))


def revoke_other_institution_view_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="certcenter", codename__in=VIEW)
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("certcenter", "0004_other_institutions_and_copies"),
    ]

    operations = [
        migrations.RunPython(grant_other_institution_view_permissions, revoke_other_institution_view_permissions),
    ]
