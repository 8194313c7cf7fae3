"""Bank-internal accounts (the other leg of cash, fee and clearing entries) and the staff groups."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from accounts import accountnumbers

INTERNAL_ACCOUNTS = [
    (1, "branch_cash"),
    (2, "fee_income"),
    (3, "interbank_clearing"),
]

VIEW_COMMON = [
    ("accounts", "view_customer"),
    ("accounts", "view_account"),
    ("accounts", "view_depositproduct"),
    ("accounts", "view_journal"),
    ("accounts", "view_ledgerentry"),
    ("audit", "view_auditevent"),
    ("notifications", "view_outboxmessage"),
    ("content", "view_notice"),
    ("content", "view_faqentry"),
]
TELLER = VIEW_COMMON + [
    ("accounts", "add_customer"),
    ("accounts", "change_customer"),
    ("accounts", "add_account"),
    ("accounts", "take_cash"),
    ("accounts", "reset_account_password"),
]
MANAGER = TELLER + [
    ("accounts", "reverse_journal"),
    ("accounts", "lift_minor_cap"),
    ("accounts", "add_depositproduct"),
    ("accounts", "change_depositproduct"),
    ("content", "add_notice"),
    ("content", "change_notice"),
    ("content", "delete_notice"),
    ("content", "add_faqentry"),
    ("content", "change_faqentry"),
    ("content", "delete_faqentry"),
]
GROUPS = {"Teller": TELLER, "Branch manager": MANAGER}


def create_internal_accounts(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    for serial, code in INTERNAL_ACCOUNTS:
        Account.objects.get_or_create(
            internal_code=code,
            defaults={
                "number": accountnumbers.build("000", "99", serial),
                "kind": "internal",
                "branch": "000",
                "allow_negative": True,
            },
        )


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    # (create_permissions skips app configs without a models module, as migration states have.)
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in GROUPS.items():
        group, _created = Group.objects.get_or_create(name=name)
        perms = [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in codes]
        group.permissions.set(perms)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0001_initial"),
        ("notifications", "0001_initial"),
        ("content", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_internal_accounts, migrations.RunPython.noop),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
