"""1:1 inquiries (1:1 문의): the model, and the answering permission for tellers and branch managers.

``grant_inquiry_permissions`` is also run by ``tests/conftest.py`` after transactional tests
flush the groups.
"""

from django.contrib.auth.management import create_permissions
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


ANSWERING_GROUPS = ("Teller", "Branch manager")
INQUIRY_PERMS = ("view_inquiry", "change_inquiry", "answer_inquiry")


def _permissions(apps):
    app_config = apps.get_app_config("content")
    original = getattr(app_config, "models_module", None)
    app_config.models_module = original or True
    try:
        create_permissions(app_config, verbosity=0, apps=apps)
    finally:
        app_config.models_module = original
    Permission = apps.get_model("auth", "Permission")
    return list(Permission.objects.filter(content_type__app_label="content", codename__in=INQUIRY_PERMS))


def grant_inquiry_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    perms = _permissions(apps)
    for group in Group.objects.filter(name__in=ANSWERING_GROUPS):
        group.permissions.add(*perms)


def revoke_inquiry_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="content", codename__in=INQUIRY_PERMS)
    for group in Group.objects.filter(name__in=ANSWERING_GROUPS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("content", "0001_initial"),
        ("accounts", "0007_staff_group_duties"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Inquiry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200, verbose_name="title")),
                ("body", models.TextField(verbose_name="question")),
                (
                    "created_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="asked at"),
                ),
                ("answer", models.TextField(blank=True, verbose_name="answer")),
                ("answered_at", models.DateTimeField(blank=True, null=True, verbose_name="answered at")),
                (
                    "answered_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="answered by",
                    ),
                ),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="inquiries",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="author",
                    ),
                ),
            ],
            options={
                "verbose_name": "1:1 inquiry",
                "verbose_name_plural": "1:1 inquiries",
                "ordering": ["-created_at", "-id"],
                "permissions": [("answer_inquiry", "Can answer 1:1 inquiries")],
                "indexes": [models.Index(fields=["author", "-created_at"], name="inquiry_author_recent")],
            },
        ),
        migrations.RunPython(grant_inquiry_permissions, revoke_inquiry_permissions),
    ]
