"""Support staff get a group that may look subscriptions and their run history up (read only:
the admin lets nobody change them, docs/subscriptions.md), with the orders they link to."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Subscription support": [
        ("subscriptions", "subscription", "view_subscription"),
        ("subscriptions", "subscriptionperiod", "view_subscriptionperiod"),
        ("checkout", "order", "view_order"),
    ],
}


def add_groups(apps, schema_editor):
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


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0002_subscription_tries"),
        ("checkout", "0011_orderline_list_price"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(add_groups, remove_groups)]
