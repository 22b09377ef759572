"""Reads for the cart, checkout and order pages, scoped to their owner."""

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404

from accounts.addresses import address_list_for_user
from accounts.models import Address
from catalog.models import Price, Product
from catalog.selectors import products_by_slug
from checkout.models import CartLine, Order, OrderLine, ShippingRate
from checkout.pricing import PricedLine, Quote, Rate, quote_build
from wallet.selectors import wallet_balance_get

SESSION_CART = "cart"  # visitor's cart: {product slug: quantity}
SESSION_USE_BALANCE = "checkout_use_balance"
SESSION_SHIPPING = "checkout_shipping"  # "standard" / "express"
SESSION_ADDRESS = "checkout_address"  # the id of the saved address chosen at checkout


def cart_lines_get(*, user, session, region_code: str) -> list[PricedLine]:
    """The cart's lines priced in the region, in one query, in the order they were added."""
    if user.is_authenticated:
        price = Price.objects.filter(product=OuterRef("product_id"), region_id=region_code)
        rows = (
            CartLine.objects.filter(cart__user=user)
            .select_related("product")
            .annotate(price=Subquery(price.values("amount")[:1]))
            .order_by("pk")
        )
        return [
            PricedLine(
                product_id=row.product_id,
                slug=row.product.slug,
                name=row.product.name,
                quantity=row.quantity,
                # A product withdrawn since it was added is no longer for sale (as for visitors,
                # whose lines `products_by_slug` drops): it shows as unavailable, never bought.
                unit_price=row.price if row.product.is_active else None,
                digital=row.product.kind == Product.Kind.DIGITAL,
            )
            for row in rows
        ]
    wanted = session.get(SESSION_CART, {})
    products = products_by_slug(slugs=wanted.keys(), region_code=region_code)
    return [
        PricedLine(
            product_id=products[slug].pk,
            slug=slug,
            name=products[slug].name,
            quantity=quantity,
            unit_price=products[slug].price,
            digital=products[slug].kind == Product.Kind.DIGITAL,
        )
        for slug, quantity in wanted.items()
        if slug in products
    ]


def shipping_rates_get(*, region_code: str) -> list[Rate]:
    """The region's shipping rates, standard first (one query)."""
    rows = ShippingRate.objects.filter(region_id=region_code)
    rates = [Rate(r.method, r.amount, r.free_from, r.delivery_days) for r in rows]
    return sorted(rates, key=lambda rate: rate.method != Order.ShippingMethod.STANDARD)


def checkout_quote_get(*, user, session) -> Quote:
    """What the signed-in shopper would pay now: lines, shipping, discount, balance part, card
    part (three queries: lines, rates, balance)."""
    region = user.region
    lines = cart_lines_get(user=user, session=session, region_code=region.code)
    rates = shipping_rates_get(region_code=region.code) if lines else []
    balance = wallet_balance_get(user=user)
    return quote_build(
        currency=region.currency,
        lines=lines,
        balance=balance.amount,
        use_balance=session.get(SESSION_USE_BALANCE, True),
        rates=rates,
        shipping_method=session.get(SESSION_SHIPPING, Order.ShippingMethod.STANDARD),
    )


def checkout_addresses_get(*, user, session) -> tuple[list[Address], Address | None]:
    """The shopper's saved addresses in their region and the one checkout ships to: the one
    chosen at checkout if it is still theirs, else the default (one query)."""
    addresses = address_list_for_user(user=user)
    chosen = session.get(SESSION_ADDRESS)
    selected = next((a for a in addresses if a.pk == chosen), None)
    selected = selected or next((a for a in addresses if a.is_default), None)
    return addresses, selected


def library_for_user(*, user):
    """The digital items the shopper bought (their library): lines of orders that stand, the
    newest first."""
    return (
        OrderLine.objects.filter(order__user=user, is_digital=True)
        .exclude(order__status__in=[Order.Status.PAYMENT_FAILED, Order.Status.REFUNDED])
        .select_related("order")
        .order_by("-order_id", "id")
    )


def order_list_for_user(*, user):
    return Order.objects.filter(user=user).order_by("-id")


def order_get_for_user(*, user, number: str) -> Order:
    """One of the shopper's own orders with its lines, payment and refunds; else 404."""
    return get_object_or_404(
        Order.objects.filter(user=user)
        .select_related("payment")
        .prefetch_related("lines", "refunds"),
        number=number,
    )
