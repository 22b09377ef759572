from django.db import migrations

REGIONS = [
    ("US", "United States", "USD", "en_US"),
    ("GB", "United Kingdom", "GBP", "en_GB"),
    ("FR", "France", "EUR", "fr_FR"),
    ("DE", "Germany", "EUR", "de_DE"),
    ("JP", "Japan", "JPY", "ja_JP"),
]


def add_regions(apps, schema_editor):
    Region = apps.get_model("catalog", "Region")
    for code, name, currency, locale in REGIONS:
        Region.objects.update_or_create(
            code=code, defaults={"name": name, "currency": currency, "locale": locale}
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(add_regions, migrations.RunPython.noop)]
