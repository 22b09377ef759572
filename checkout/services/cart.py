"""The cart: a visitor's lives in the session, a shopper's in the database."""

from django.db import transaction

from catalog.models import Product
from catalog.selectors import products_by_slug, shopper_region
from checkout.exceptions import (
    InvalidQuantity,
    ProductUnavailable,
)
from checkout.locks import cart_qs_select_for_update
from checkout.models import MAX_QUANTITY, Cart, CartLine
from checkout.selectors import (
    SESSION_CART,
    SESSION_USE_BALANCE,
)


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
        # Buying and sending gift cards is a later issue; until then nothing would be delivered.
        raise ProductUnavailable("Gift cards cannot be bought yet: that comes in a later release.")
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
