"""Bought gift cards are named so in the admin, and support staff get a group that may send
one again to a corrected address (value-moving: two-factor applies)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Gift card support": [
        ("checkout", "ordergiftcard", "view_ordergiftcard"),
        ("checkout", "ordergiftcard", "change_ordergiftcard"),
        ("checkout", "reload", "view_reload"),
        ("checkout", "autoreload", "view_autoreload"),
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
        ("checkout", "0006_giftcard_purchase"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(add_groups, remove_groups),
        migrations.AlterModelOptions(
            name="ordergiftcard",
            options={"ordering": ["id"], "verbose_name": "bought gift card"},
        ),
    ]
