"""Each region gets a time zone, as data like its currency.

The United States spans six zones but a storefront needs one calendar: a gift card printed
"valid until 31 December" must end at one instant for every US shopper. We use Eastern time
(America/New_York), where most US shoppers live and US retail keeps its business day; a card
then ends at 21:00 on its last day in California. A later zone would let Eastern shoppers
redeem for hours after the printed date. The other regions have one zone each.
"""

from django.db import migrations, models

import catalog.regions

TIME_ZONES = {
    "US": "America/New_York",
    "GB": "Europe/London",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "JP": "Asia/Tokyo",
}


def set_time_zones(apps, schema_editor):
    Region = apps.get_model("catalog", "Region")
    for code, time_zone in TIME_ZONES.items():
        Region.objects.filter(code=code).update(time_zone=time_zone)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_products")]

    operations = [
        # "UTC" only fills rows that exist before the data step below; the field has no default,
        # so a region added later must name its zone.
        migrations.AddField(
            model_name="region",
            name="time_zone",
            field=models.CharField(
                default="UTC",
                help_text="IANA time zone name (America/New_York): dates such as a gift card's "
                "last day end at midnight here.",
                max_length=64,
                validators=[catalog.regions.time_zone_validate],
            ),
            preserve_default=False,
        ),
        migrations.RunPython(set_time_zones, migrations.RunPython.noop),
    ]
