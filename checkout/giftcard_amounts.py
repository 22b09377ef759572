"""What a gift card bought in a region may be worth (docs/interface.md §12): one of the listed
denominations, or a custom amount between the region's minimum and maximum.

The settings (`GIFTCARD_DENOMINATIONS`, `GIFTCARD_CUSTOM_LIMITS`) are in major units of the
region's currency; here they become minor units, the only unit the shop computes in. The buy
form and `cart_giftcard_add` both ask this module, so a script posting to the page and a
service call are held to the same rule.
"""

from dataclasses import dataclass

from django.conf import settings

from catalog.money import parse_amount


@dataclass(frozen=True)
class GiftCardAmounts:
    currency: str
    denominations: tuple[int, ...]  # minor units, as listed
    minimum: int  # a custom amount's bounds, minor units, both allowed
    maximum: int

    def allows(self, amount: int) -> bool:
        return amount in self.denominations or self.minimum <= amount <= self.maximum


def giftcard_amounts_get(*, region) -> GiftCardAmounts:
    """The amounts a gift card may have in `region` (its currency's minor units). A region
    the settings do not name gets the US figures' shape in its own currency: a region added
    as data still sells gift cards, within limits someone can then tune."""
    denominations = settings.GIFTCARD_DENOMINATIONS.get(
        region.code, settings.GIFTCARD_DENOMINATIONS["US"]
    )
    low, high = settings.GIFTCARD_CUSTOM_LIMITS.get(
        region.code, settings.GIFTCARD_CUSTOM_LIMITS["US"]
    )
    currency = region.currency
    return GiftCardAmounts(
        currency=currency,
        denominations=tuple(parse_amount(text, currency=currency) for text in denominations),
        minimum=parse_amount(low, currency=currency),
        maximum=parse_amount(high, currency=currency),
    )
