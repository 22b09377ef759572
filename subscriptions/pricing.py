"""What a Subscribe & Save delivery costs (docs/subscriptions.md): the catalog's price now, less
5% per unit (10% while the shopper has five or more active subscriptions), rounded half up to
the minor unit (checkout.baskets.basket_unit_price). Promotions and shipping are then those of
any order (checkout.pricing)."""

from dataclasses import dataclass

from django.conf import settings

from checkout.baskets import basket_unit_price


def discount_percent(*, active_count: int) -> int:
    """The percent off for a shopper with `active_count` active subscriptions."""
    if active_count >= settings.SUBSCRIPTION_DISCOUNT_MANY_FROM:
        return settings.SUBSCRIPTION_DISCOUNT_PERCENT_MANY
    return settings.SUBSCRIPTION_DISCOUNT_PERCENT


@dataclass(frozen=True)
class DeliveryPrice:
    list_price: int  # the catalog's unit price
    unit_price: int  # after the discount
    quantity: int
    percent: int

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def saving(self) -> int:
        return (self.list_price - self.unit_price) * self.quantity


def delivery_price(*, list_price: int, quantity: int, active_count: int) -> DeliveryPrice:
    """The price of one delivery of `quantity` units before promotions and shipping."""
    percent = discount_percent(active_count=active_count)
    return DeliveryPrice(
        list_price=list_price,
        unit_price=basket_unit_price(price=list_price, percent_off=percent),
        quantity=quantity,
        percent=percent,
    )
