"""Checkout test set-up through the real services: a funded balance, a filled cart, an order.
And a snapshot of everything a checkout write could change, to prove a refusal wrote nothing."""

import uuid
from dataclasses import dataclass

from checkout.models import CartLine, Order, OrderLine, Payment, Refund
from checkout.payments import TestGateway
from checkout.selectors import SESSION_USE_BALANCE
from checkout.services import cart_add, order_place
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import LedgerState, ledger_state
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_redeem

APPROVED = TestGateway.APPROVED
DECLINED = TestGateway.DECLINED


def new_key() -> str:
    """An idempotency key as the checkout page renders it (32 hex digits)."""
    return uuid.uuid4().hex


def fund(user, amount: int) -> None:
    """Credit `user`'s balance by redeeming a gift card issued in their region."""
    giftcard_redeem(user=user, code=issue_card(region=user.region_id, amount=amount).code)


def balance(user) -> int:
    return wallet_balance_get(user=user).amount


ADDRESSES = {
    "US": "10001",
    "GB": "SW1A 1AA",
    "FR": "75001",
    "DE": "10115",
    "JP": "100-0001",
}


def address_give(user):
    """A saved default address in the shopper's region (a physical item needs one to ship)."""
    from accounts.addresses import address_create
    from accounts.models import Address

    existing = Address.objects.filter(user=user, region_id=user.region_id).first()
    if existing is not None:
        return existing
    return address_create(
        user=user,
        data={
            "full_name": "Sam Shopper",
            "line1": "1 Test Street",
            "line2": "",
            "city": "Testville",
            "postal_code": ADDRESSES[user.region_id],
            "phone": "",
        },
    )


def cart_fill(user, *lines) -> None:
    """Put `(product, quantity)` lines in the shopper's saved cart through `cart_add`; the
    shopper gets a default address if they have none (a physical item ships)."""
    address_give(user)
    for product, quantity in lines:
        cart_add(user=user, session={}, slug=product.slug, quantity=quantity)


def order_make(user, *lines, card: str = "", use_balance: bool = True, key=None) -> Order:
    """Fill the cart with `lines` and place the order through `order_place`."""
    cart_fill(user, *lines)
    return order_place(
        user=user,
        session={SESSION_USE_BALANCE: use_balance},
        idempotency_key=key or new_key(),
        card_number=card,
    )


@dataclass(frozen=True)
class ShopState:
    ledger: LedgerState
    cart_lines: list
    orders: list
    order_lines: int
    payments: list
    refunds: list


def shop_state() -> ShopState:
    """Balances, postings, gift cards, carts, orders, payments and refunds, as they are now."""
    return ShopState(
        ledger=ledger_state(),
        cart_lines=list(CartLine.objects.order_by("pk").values_list("pk", "product", "quantity")),
        orders=list(Order.objects.order_by("pk").values()),
        order_lines=OrderLine.objects.count(),
        payments=list(Payment.objects.order_by("pk").values()),
        refunds=list(Refund.objects.order_by("pk").values()),
    )
