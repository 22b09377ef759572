"""Reads of the coin packs for sale (docs/interface.md §13): the /coins/ page's offers."""

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from catalog.models import Price, Product
from wallet.units import coins_value, format_coins


@dataclass(frozen=True)
class CoinPackOffer:
    """One pack as the page shows it, priced in the region: its coins, bonus coins, price and
    what the coins would cost one by one (`worth`, one coin = one minor unit today)."""

    slug: str
    name: str
    coins: int
    bonus_coins: int
    price: int
    worth: int
    locale: str = "en_US"

    @property
    def total_coins(self) -> int:
        return self.coins + self.bonus_coins

    @property
    def coins_text(self) -> str:
        """ "5,000 coins" in the region's locale ("5 000 coins" in France)."""
        return format_coins(self.coins, locale=self.locale)

    @property
    def bonus_text(self) -> str:
        return format_coins(self.bonus_coins, locale=self.locale) if self.bonus_coins else ""

    @property
    def total_text(self) -> str:
        return format_coins(self.total_coins, locale=self.locale)

    @property
    def saving(self) -> int:
        """What the pack saves against its coins' worth (never below 0)."""
        return max(self.worth - self.price, 0)

    @property
    def saving_percent(self) -> int:
        """The saving per coin, as a whole percentage of a coin's worth, rounded down: the
        page never promises more than the pack gives."""
        return self.saving * 100 // self.worth if self.worth else 0


def coin_pack_offers(*, region) -> list[CoinPackOffer]:
    """Active coin packs with a price in `region`, smallest first, in one query."""
    price = Price.objects.filter(product=OuterRef("pk"), region_id=region.code).values("amount")
    packs = (
        Product.objects.filter(is_active=True, kind=Product.Kind.COIN_PACK)
        .annotate(price=Subquery(price[:1]))
        .filter(price__isnull=False)
        .order_by("coins", "bonus_coins", "pk")
        .only("slug", "name", "coins", "bonus_coins")
    )
    return [
        CoinPackOffer(
            slug=pack.slug,
            name=pack.name,
            coins=pack.coins,
            bonus_coins=pack.bonus_coins,
            price=pack.price,
            worth=coins_value(coins=pack.pack_coins, currency=region.currency),
            locale=region.locale,
        )
        for pack in packs
    ]
