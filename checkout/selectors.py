"""Reads for the cart, checkout and order pages, scoped to their owner."""

from collections.abc import Sequence

from django.db.models import OuterRef, Prefetch, Subquery
from django.shortcuts import get_object_or_404

from accounts.addresses import address_list_for_user
from accounts.models import Address
from catalog.models import Price, Product
from catalog.selectors import products_by_slug
from checkout.baskets import Basket, basket_lines_get
from checkout.models import CartGiftCard, CartLine, Order, OrderLine, ShippingRate
from checkout.pricing import PricedGiftCard, PricedLine, Quote, Rate, quote_build
from promotions.engine import LineInput, ShippingInput, promotions_evaluate
from promotions.models import PromotionRedemption
from promotions.selectors import entered_codes_lookup, promotion_specs_get, shopper_input_get
from wallet.selectors import wallet_balance_get
from wallet.unit_selectors import coins_balance_get

SESSION_CART = "cart"  # visitor's cart: {product slug: quantity}
SESSION_USE_BALANCE = "checkout_use_balance"
SESSION_USE_COINS = "checkout_use_coins"  # coins pay the digital items first (default on)
SESSION_SHIPPING = "checkout_shipping"  # "standard" / "express"
SESSION_ADDRESS = "checkout_address"  # the id of the saved address chosen at checkout
# The promotional codes entered at checkout, canonical ("WELCOME10"), in the order entered.
SESSION_PROMO_CODES = "checkout_promo_codes"
PROMO_CODES_MAX = 5
# Orders that do not count as "an earlier order" for a first-order-only promotion.
_NOT_COUNTED = (Order.Status.PAYMENT_FAILED, Order.Status.CANCELLED)


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
                # A gift card is never a plain line (it is a `CartGiftCard`, with its
                # recipient): one that got here some other way cannot be bought as one.
                unit_price=row.price
                if row.product.is_active and row.product.kind != Product.Kind.GIFT_CARD
                else None,
                digital=row.product.kind == Product.Kind.DIGITAL,
                category_id=row.product.category_id,
                is_gift_card=row.product.kind == Product.Kind.GIFT_CARD,
                coin_pack=row.product.kind == Product.Kind.COIN_PACK,
                pack_coins=row.product.pack_coins,
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
            category_id=products[slug].category_id,
            coin_pack=products[slug].kind == Product.Kind.COIN_PACK,
            pack_coins=products[slug].pack_coins,
        )
        for slug, quantity in wanted.items()
        if slug in products
    ]


def gift_card_line_name(*, recipient_name: str) -> str:
    """What a bought gift card's line is called on the cart, the order and its e-mails."""
    return f"Gift card for {recipient_name}"


def cart_gift_cards_get(*, user) -> list[PricedGiftCard]:
    """The gift cards in the signed-in shopper's cart, in the order they were added (one
    query; none for a visitor, who cannot buy gift cards)."""
    if not user.is_authenticated:
        return []
    return [
        PricedGiftCard(
            id=row.pk,
            product_id=row.product_id,
            name=gift_card_line_name(recipient_name=row.recipient_name),
            amount=row.amount,
            delivery=row.delivery,
            recipient_name=row.recipient_name,
            recipient_email=row.recipient_email,
            message=row.message,
            design=row.design,
            send_on=row.send_on,
            sender_name=row.sender_name,
        )
        for row in CartGiftCard.objects.filter(cart__user=user).order_by("pk")
    ]


def cart_gift_card_count(*, user) -> int:
    """How many gift cards the shopper's cart holds (one query)."""
    return CartGiftCard.objects.filter(cart__user=user).count()


def shipping_rates_get(*, region_code: str) -> list[Rate]:
    """The region's shipping rates, standard first (one query)."""
    rows = ShippingRate.objects.filter(region_id=region_code)
    rates = [Rate(r.method, r.amount, r.free_from, r.delivery_days) for r in rows]
    return sorted(rates, key=lambda rate: rate.method != Order.ShippingMethod.STANDARD)


def checkout_promo_codes(session) -> list[str]:
    """The promotional codes entered at checkout (canonical text), at most `PROMO_CODES_MAX`."""
    codes = session.get(SESSION_PROMO_CODES) or []
    return [code for code in codes if isinstance(code, str)][:PROMO_CODES_MAX]


def checkout_quote_get(
    *, user, session, codes: Sequence[str] | None = None, basket: Basket | None = None
) -> Quote:
    """What the signed-in shopper would pay now: lines, shipping, the promotions that apply
    (the entered codes' and the automatic ones, chosen by the engine), the coins part (their
    coins on the digital lines, unless switched off), the balance part (promotional credit
    first, then gift card money) and the card part, which always pays the gift cards and coin
    packs bought (checkout/pricing.py).

    `codes` are the promotional codes to price (default: the ones entered at checkout); the
    code box prices a new code with them before keeping it. Queries, however many lines,
    gift cards and codes: lines, gift cards, rates, balance, coins, earlier orders, the
    promotion look-ups (promotions.selectors), none of the promotion ones for an empty
    cart.

    With a `basket` (checkout/baskets.py) the lines are the basket's, not the cart's, and the
    session is not read: no gift cards, no codes, balance on, coins off, standard shipping."""
    region = user.region
    if basket is not None:
        session = {SESSION_USE_COINS: False}
        codes = ()
        lines = basket_lines_get(basket=basket, region_code=region.code)
        gift_cards = []
    else:
        lines = cart_lines_get(user=user, session=session, region_code=region.code)
        gift_cards = cart_gift_cards_get(user=user)
    rates = shipping_rates_get(region_code=region.code) if lines else []
    balance = wallet_balance_get(user=user)
    use_balance = session.get(SESSION_USE_BALANCE, True)
    coins = coins_balance_get(user=user)
    use_coins = session.get(SESSION_USE_COINS, True)
    method = session.get(SESSION_SHIPPING, Order.ShippingMethod.STANDARD)
    evaluation = None
    if lines or gift_cards:
        # A cart of gift cards only is evaluated too: a gift card bonus offer looks at them.
        evaluation = checkout_promotions_evaluate(
            user=user,
            lines=lines,
            rate=_rate_chosen(lines, rates, method),
            codes=checkout_promo_codes(session) if codes is None else list(codes),
            gift_card_total=sum(card.amount for card in gift_cards),
        )
    return quote_build(
        currency=region.currency,
        lines=lines,
        balance=balance.amount,
        use_balance=use_balance,
        rates=rates,
        shipping_method=method,
        evaluation=evaluation,
        credit_lots=balance.lots,
        money=balance.money,
        gift_cards=gift_cards,
        coins=coins,
        use_coins=use_coins,
    )


def _rate_chosen(lines: Sequence[PricedLine], rates: Sequence[Rate], method: str) -> Rate | None:
    """The rate `quote_build` charges: the chosen method's, else the first; None when nothing
    ships."""
    if not any(line.ships for line in lines) or not rates:
        return None
    return next((rate for rate in rates if rate.method == method), rates[0])


def checkout_has_orders(*, user) -> bool:
    """Whether the shopper has an earlier order that counts for a first-order-only promotion:
    any order not payment_failed or cancelled (one query)."""
    return Order.objects.filter(user=user).exclude(status__in=_NOT_COUNTED).exists()


def checkout_promotions_evaluate(
    *,
    user,
    lines: Sequence[PricedLine],
    rate: Rate | None,
    codes: Sequence[str],
    gift_card_total: int = 0,
):
    """The promotions engine's answer for this cart, shopper and entered `codes`
    (promotions.engine.Evaluation). Lines not sold in the region are left out: they cannot
    be bought, so nothing is discounted on them. Gift cards bought are never among `lines`
    (never discounted, no minimum counts them), nor are coin packs (paid by card only, like
    gift cards); `gift_card_total` (minor units) is what the gift card bonus offer looks
    at."""
    region = user.region
    entered = entered_codes_lookup(codes=codes) if codes else []
    specs = promotion_specs_get(
        region=region,
        currency=region.currency,
        promotion_ids=[e.promotion_id for e in entered if e.promotion_id is not None],
    )
    shopper = shopper_input_get(
        user=user,
        has_orders=checkout_has_orders(user=user),
        promotion_ids=[spec.id for spec in specs],
    )
    return promotions_evaluate(
        lines=[
            LineInput(
                key=line.product_id,
                category_id=line.category_id,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in lines
            if line.unit_price is not None and not line.coin_pack
        ],
        shipping=(
            ShippingInput(method=rate.method, amount=rate.amount, free_from=rate.free_from)
            if rate is not None
            else None
        ),
        shopper=shopper,
        promotions=specs,
        entered=entered,
        gift_card_total=gift_card_total,
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
    # A gift card bought is for its recipient, not an item of the buyer's library.
    return (
        OrderLine.objects.filter(order__user=user, is_digital=True, gift_card__isnull=True)
        .exclude(order__status__in=[Order.Status.PAYMENT_FAILED, Order.Status.REFUNDED])
        .select_related("order")
        .order_by("-order_id", "id")
    )


def order_list_for_user(*, user):
    return Order.objects.filter(user=user).order_by("-id")


def order_get_for_user(*, user, number: str) -> Order:
    """One of the shopper's own orders with its lines, payment and refunds, and the
    promotions it used (`applied_promotions`: its redemptions, with their promotion and code,
    in one more query); else 404. Each line comes with its bought gift card and that card's
    wallet card (for `OrderGiftCard.page_status`), in the lines' query; `order.bought_gift_cards`
    lists them."""
    lines = OrderLine.objects.select_related("gift_card__card").order_by("pk")
    order = get_object_or_404(
        Order.objects.filter(user=user)
        .select_related("payment")
        .prefetch_related(Prefetch("lines", queryset=lines), "refunds"),
        number=number,
    )
    order.bought_gift_cards = [
        line.gift_card for line in order.lines.all() if _gift_card_of(line) is not None
    ]
    # A redemption names its order by number (promotions never imports checkout).
    order.applied_promotions = list(
        PromotionRedemption.objects.filter(user=user, order_number=order.number)
        .select_related("promotion", "code", "giftcard_bonus")
        .order_by("pk")
    )
    return order


def _gift_card_of(line: OrderLine):
    """The line's bought gift card, or None (a reverse one-to-one raises when there is none)."""
    try:
        return line.gift_card
    except OrderLine.gift_card.RelatedObjectDoesNotExist:
        return None
