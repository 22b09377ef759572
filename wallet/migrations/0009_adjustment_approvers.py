"""The group that approves balance adjustments above the threshold, and the adjusters' view of
their own requests.

A group of its own rather than "Gift card approvers": approving a batch and approving money
into a shopper's balance are different trusts, given to different people.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPROVERS = "Balance adjustment approvers"
GROUPS = {
    APPROVERS: [
        ("wallet", "balanceadjustment", "approve_balanceadjustment"),
        ("wallet", "balanceadjustment", "view_balanceadjustment"),
        ("wallet", "account", "view_account"),
    ],
    "Balance adjusters": [
        ("wallet", "balanceadjustment", "view_balanceadjustment"),
    ],
}


def add_permissions(apps, schema_editor):
    # Permissions are normally created after migrate; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, model, codename in perms:
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, content_type__model=model, codename=codename
                )
            )


def remove_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=APPROVERS).delete()
    adjusters = Group.objects.filter(name="Balance adjusters").first()
    if adjusters is not None:
        adjusters.permissions.remove(
            *adjusters.permissions.filter(
                content_type__app_label="wallet", content_type__model="balanceadjustment"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0008_balance_adjustment"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
