from django.db import models


class Region(models.Model):
    """A storefront: a country whose shoppers pay in one currency (CONTRACT §3).

    Regions are data, created by a migration, so adding one needs no code change.
    """

    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    locale = models.CharField(max_length=16)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.currency})"
