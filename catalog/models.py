from django.db import models

from catalog.images import product_image_path
from catalog.regions import time_zone_validate


class Region(models.Model):
    """A storefront: a country whose shoppers pay in one currency (docs/interface.md §3).

    Regions are data, created by a migration, so adding one needs no code change. Its time
    zone says when a day ends there: a gift card's last day is a day in this zone
    (`catalog.regions`).
    """

    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    locale = models.CharField(max_length=16)
    time_zone = models.CharField(
        max_length=64,
        validators=[time_zone_validate],
        help_text="IANA time zone name (America/New_York): dates such as a gift card's last "
        "day end at midnight here.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.currency})"


class Category(models.Model):
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Product(models.Model):
    """Something the shop sells. Its price is per region (`Price`); a product without a price
    in the shopper's region is not for sale there."""

    class Kind(models.TextChoices):
        PHYSICAL = "physical", "Physical (shipped)"
        DIGITAL = "digital", "Digital (delivered at once)"
        GIFT_CARD = "gift_card", "Gift card"
        # Coins for apps and games (docs/points.md): paid by card only, credited once paid.
        COIN_PACK = "coin_pack", "Coin pack"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PHYSICAL)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # A coin pack's coins, and the bonus coins a larger pack adds (0 for other kinds).
    coins = models.PositiveIntegerField(default=0)
    bonus_coins = models.PositiveIntegerField(default=0)
    # Subscribe & Save (docs/subscriptions.md): a physical product the shopper may have
    # delivered again every few months.
    subscribable = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["category", "name"], name="catalog_product_cat_name")]
        constraints = [
            # A coin pack holds coins; nothing else does.
            models.CheckConstraint(
                condition=(models.Q(kind="coin_pack") & models.Q(coins__gt=0))
                | (~models.Q(kind="coin_pack") & models.Q(coins=0) & models.Q(bonus_coins=0)),
                name="catalog_product_coins_iff_pack",
            ),
            # Only what is shipped repeats: not a digital item, a gift card or a coin pack.
            models.CheckConstraint(
                condition=models.Q(subscribable=False) | models.Q(kind="physical"),
                name="catalog_product_subscribable_physical",
                violation_error_message="Only a physical product can be Subscribe & Save.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def pack_coins(self) -> int:
        """The coins one pack gives: its coins and its bonus."""
        return self.coins + self.bonus_coins

    @property
    def image_path(self) -> str:
        """Its illustration's static path (catalog/images.py)."""
        return product_image_path(self.slug)


class Price(models.Model):
    """A product's price in one region, in minor units of the region's currency."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="prices")
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["product_id", "region_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "region"], name="catalog_price_one_per_region"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="catalog_price_positive"),
        ]

    def __str__(self):
        return f"{self.product} in {self.region_id}: {self.amount}"
