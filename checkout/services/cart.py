"""The cart: a visitor's lives in the session, a shopper's in the database. Gift cards bought
(docs/interface.md §12) are only ever in a signed-in shopper's cart, one row each."""

import datetime

from django.conf import settings
from django.db import transaction

from catalog.models import Product
from catalog.regions import region_today
from catalog.selectors import products_by_slug, shopper_region
from checkout.exceptions import (
    CheckoutError,
    InvalidQuantity,
    ProductUnavailable,
)
from checkout.giftcard_amounts import giftcard_amounts_get
from checkout.locks import cart_qs_select_for_update
from checkout.models import MAX_QUANTITY, Cart, CartGiftCard, CartLine, Delivery, GiftCardDesign
from checkout.selectors import (
    SESSION_CART,
    SESSION_USE_BALANCE,
)

# How far ahead a gift card's day may be chosen: far enough for any occasion of the year,
# near enough that a typo in the year (2062) is caught.
GIFTCARD_SEND_ON_MAX_DAYS = 366
GIFTCARD_MESSAGE_MAX = 300


def _product_for_sale(*, slug: str, user) -> Product:
    region = shopper_region(user)
    product = products_by_slug(slugs=[slug], region_code=region.code).get(slug)
    if product is None:
        raise ProductUnavailable("That product does not exist or is no longer sold.")
    if product.price is None:
        raise ProductUnavailable(
            f"{product.name} is not sold in the {region.name} store, so it cannot be added."
        )
    if product.kind == Product.Kind.GIFT_CARD:
        # A gift card needs its amount, recipient and delivery: the buy page asks for them.
        raise ProductUnavailable(
            "Gift cards are bought on the gift card page (/gift-cards/buy/): choose the amount, "
            "the recipient and how to send it there."
        )
    return product


def _check_quantity(quantity: int, *, allow_zero: bool) -> None:
    low = 0 if allow_zero else 1
    if not low <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(f"Choose a quantity from {low} to {MAX_QUANTITY}.")


def cart_add(*, user, session, slug: str, quantity: int) -> int:
    """Add `quantity` of a product to the cart (the session's for a visitor); returns the new
    quantity of that line. Raises `ProductUnavailable` for a product not sold in the shopper's
    region and `InvalidQuantity` outside 1-99 (in total for the line)."""
    _check_quantity(quantity, allow_zero=False)
    product = _product_for_sale(slug=slug, user=user)
    if not user.is_authenticated:
        cart = dict(session.get(SESSION_CART, {}))
        new = cart.get(slug, 0) + quantity
        _check_quantity(new, allow_zero=False)
        cart[slug] = new
        session[SESSION_CART] = cart
        return new
    with transaction.atomic():
        cart, _ = Cart.objects.get_or_create(user=user)
        cart_qs_select_for_update(user_id=user.pk).get()
        line = CartLine.objects.filter(cart=cart, product=product).first()
        new = (line.quantity if line else 0) + quantity
        _check_quantity(new, allow_zero=False)
        CartLine.objects.update_or_create(cart=cart, product=product, defaults={"quantity": new})
    return new


def cart_update(*, user, session, slug: str, quantity: int) -> None:
    """Set a line's quantity; 0 removes it. Raises `InvalidQuantity` outside 0-99."""
    _check_quantity(quantity, allow_zero=True)
    if not user.is_authenticated:
        cart = dict(session.get(SESSION_CART, {}))
        if quantity == 0:
            cart.pop(slug, None)
        elif slug in cart:
            cart[slug] = quantity
        session[SESSION_CART] = cart
        return
    with transaction.atomic():
        if cart_qs_select_for_update(user_id=user.pk).first() is None:
            return
        lines = CartLine.objects.filter(cart__user=user, product__slug=slug)
        if quantity == 0:
            lines.delete()
        else:
            lines.update(quantity=quantity)


def cart_merge_on_login(sender, request, user, **kwargs):
    """`user_logged_in` receiver: move the visitor's session cart into the saved cart.

    Lines of products not sold in the shopper's region are dropped; quantities add up to 99.
    """
    session = getattr(request, "session", None)
    wanted = session.get(SESSION_CART) if session is not None else None
    if not wanted:
        return
    for slug, quantity in wanted.items():
        try:
            line_quantity = min(quantity, MAX_QUANTITY)
            current = CartLine.objects.filter(cart__user=user, product__slug=slug).first()
            room = MAX_QUANTITY - (current.quantity if current else 0)
            if room > 0:
                cart_add(user=user, session=session, slug=slug, quantity=min(line_quantity, room))
        except (ProductUnavailable, InvalidQuantity):
            continue
    session.pop(SESSION_CART, None)


def checkout_use_balance_set(*, session, use_balance: bool) -> None:
    """The shopper's switch: pay from the balance first (the default) or not at all."""
    session[SESSION_USE_BALANCE] = use_balance


def cart_giftcard_add(
    *,
    user,
    amount: int,
    delivery: str,
    recipient_name: str,
    recipient_email: str = "",
    sender_name: str = "",
    message: str = "",
    design: str = GiftCardDesign.CLASSIC,
    send_on: datetime.date | None = None,
    product_slug: str = "",
) -> CartGiftCard:
    """Put one gift card in the signed-in shopper's cart, as its own line (docs/interface.md
    §12): `amount` in minor units of their region's currency, a listed denomination or within
    the region's custom limits (checkout/giftcard_amounts.py); `delivery` e-mail (then
    `recipient_email` is needed) or print; `send_on` a day in the shopper's region, today or
    later (None: as soon as it is paid; print cards ignore it); `sender_name` who the card is
    from (up to 100 characters; empty: "A friend"); `product_slug` the gift card
    product the line is named after (default: the first one for sale).

    The cart is locked before its gift cards are counted, so two tabs never pass
    GIFTCARD_MAX_PER_CART together. Not idempotent: each call is one more card (the buy form
    is posted once and redirects). Raises `CheckoutError` with `reason` `amount`,
    `delivery`, `recipient_email`, `recipient_name`, `sender_name`, `message`, `design`,
    `send_on`,
    `gift_card_limit`, or `ProductUnavailable`; nothing is written then.
    """
    region = user.region
    recipient_name = recipient_name.strip()
    recipient_email = recipient_email.strip()
    # One character per line break, as the form counts them (a browser sends CR LF).
    message = message.replace("\r\n", "\n").replace("\r", "\n").strip()
    sender_name = sender_name.strip()
    if not giftcard_amounts_get(region=region).allows(amount):
        raise CheckoutError(
            "Choose one of the listed amounts or a custom amount within the limits.",
            reason="amount",
        )
    if delivery not in Delivery.values:
        raise CheckoutError("Choose e-mail or print delivery.", reason="delivery")
    if design not in GiftCardDesign.values:
        raise CheckoutError("Choose one of the designs.", reason="design")
    if not recipient_name or len(recipient_name) > 100:
        raise CheckoutError(
            "Give the recipient's name (up to 100 characters).", reason="recipient_name"
        )
    if delivery == Delivery.EMAIL and not recipient_email:
        raise CheckoutError(
            "Give the recipient's e-mail address: the card is sent there.",
            reason="recipient_email",
        )
    if len(sender_name) > 100:
        raise CheckoutError(
            "Your name on the card can be up to 100 characters.", reason="sender_name"
        )
    if len(message) > GIFTCARD_MESSAGE_MAX:
        raise CheckoutError(
            f"The message can be up to {GIFTCARD_MESSAGE_MAX} characters.", reason="message"
        )
    if delivery == Delivery.PRINT:
        # Printed by the buyer: there is no day to send it and no address to send it to.
        send_on, recipient_email = None, ""
    if send_on is not None:
        today = region_today(region)
        if send_on < today:
            raise CheckoutError("Choose today or a later day to send it.", reason="send_on")
        if send_on > today + datetime.timedelta(days=GIFTCARD_SEND_ON_MAX_DAYS):
            raise CheckoutError("Choose a day within the next year to send it.", reason="send_on")
    product = _giftcard_product(slug=product_slug)
    with transaction.atomic():
        cart, _ = Cart.objects.get_or_create(user=user)
        # Counted under the cart lock (two tabs adding at once queue here).
        cart_qs_select_for_update(user_id=user.pk).get()
        if CartGiftCard.objects.filter(cart=cart).count() >= settings.GIFTCARD_MAX_PER_CART:
            raise CheckoutError(
                f"A cart holds at most {settings.GIFTCARD_MAX_PER_CART} gift cards: check out "
                "these first, or remove one.",
                reason="gift_card_limit",
            )
        return CartGiftCard.objects.create(
            cart=cart,
            product=product,
            amount=amount,
            currency=region.currency,
            delivery=delivery,
            recipient_email=recipient_email,
            recipient_name=recipient_name,
            sender_name=sender_name,
            message=message,
            design=design,
            send_on=send_on,
        )


def _giftcard_product(*, slug: str) -> Product:
    """The gift card product a bought card's line is named after: `slug`'s, else the first
    one for sale. Raises `ProductUnavailable` when the shop sells none (or not that one)."""
    products = Product.objects.filter(kind=Product.Kind.GIFT_CARD, is_active=True)
    if slug:
        products = products.filter(slug=slug)
    product = products.order_by("name", "pk").first()
    if product is None:
        raise ProductUnavailable("Gift cards are not for sale right now.")
    return product


def cart_giftcard_remove(*, user, gift_card_id: int) -> None:
    """Take one gift card out of the shopper's cart. Raises `CartGiftCard.DoesNotExist` for
    one that is not in their cart (another shopper's included: the page answers 404, and
    nothing is written)."""
    with transaction.atomic():
        # The cart lock: an order being placed from this cart finishes first (and then the
        # card is gone with the cart's other lines).
        cart_qs_select_for_update(user_id=user.pk).first()
        deleted, _ = CartGiftCard.objects.filter(pk=gift_card_id, cart__user=user).delete()
        if not deleted:
            raise CartGiftCard.DoesNotExist


def cart_gift_cards_restore(*, order) -> None:
    """Put an order's bought gift cards back in the shopper's cart as they were filled in
    (for a failed card payment, beside the other lines; the caller holds the cart lock).
    A day already past becomes "as soon as it is paid". Cards beyond GIFTCARD_MAX_PER_CART
    are not put back (the order page still lists them)."""
    cart, _ = Cart.objects.get_or_create(user=order.user)
    room = settings.GIFTCARD_MAX_PER_CART - CartGiftCard.objects.filter(cart=cart).count()
    today = region_today(order.region)
    bought = list(order.gift_cards.select_related("line").order_by("pk"))[: max(room, 0)]
    CartGiftCard.objects.bulk_create(
        CartGiftCard(
            cart=cart,
            product_id=card.line.product_id,
            amount=card.amount,
            currency=card.currency,
            delivery=card.delivery,
            recipient_email=card.recipient_email,
            recipient_name=card.recipient_name,
            sender_name=card.sender_name,
            message=card.message,
            design=card.design,
            send_on=card.send_on if card.send_on > today else None,
        )
        for card in bought
    )


def cart_lock_for_order(*, user, basket=None) -> bool:
    """Inside an order's transaction: lock the shopper's cart, the first lock of an order
    (docs/ledger.md); False when they have none. A delivery (`basket`: an order placed from
    something else than the cart) queues on that lock like the shopper's own checkout does:
    a shopper without a cart yet gets an empty one, in this transaction (one INSERT that
    leaves a cart made meanwhile as it is, then the lock; nothing else changes in it)."""
    if cart_qs_select_for_update(user_id=user.pk).first() is not None:
        return True
    if basket is None:
        return False
    Cart.objects.bulk_create([Cart(user=user)], ignore_conflicts=True)
    return cart_qs_select_for_update(user_id=user.pk).first() is not None
