"""`nav_cart_count` for the navigation bar's "Cart (n)" (data-testid="nav-cart")."""

from functools import cache

from django.db import connection
from django.utils.functional import SimpleLazyObject

from checkout.models import Cart, CartGiftCard, CartLine
from checkout.selectors import SESSION_CART
from config.prepared import prepared_cursor


def _count(request) -> int:
    user = request.user
    if user.is_authenticated:
        # One query, only on pages that render the nav (the lazy object below) and did not
        # send it with their own reads (`cart_count_statement`, config/frame_reads.py): the
        # lines' quantities and the gift cards (each its own line) together. Written as SQL:
        # on every signed-in page, building the queryset cost more CPU than running it.
        with prepared_cursor() as cursor:
            cursor.execute(*cart_count_statement(request))
            return cart_count_value(cursor.fetchall())
    # A visitor's cart is in the session, which the page has already loaded to find the user:
    # no query. A line withdrawn from sale since is still counted until the cart page drops it.
    return sum(int(q) for q in request.session.get(SESSION_CART, {}).values())


def cart_count_statement(request) -> tuple[str, list] | None:
    """The signed-in shopper's count as (sql, params); None for a visitor (no query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return _count_sql(), [user.pk]


def cart_count_value(rows: list[tuple]) -> int:
    return rows[0][0] if rows else 0


@cache
def _count_sql() -> str:
    # Table and column names only (no input): the user's id is a parameter.
    cart, lines = (connection.ops.quote_name(m._meta.db_table) for m in (Cart, CartLine))
    cards = connection.ops.quote_name(CartGiftCard._meta.db_table)
    return (
        f"SELECT COALESCE((SELECT SUM(quantity) FROM {lines} WHERE cart_id = c.id), 0) "  # noqa: S608  # nosec B608
        f"+ (SELECT COUNT(*) FROM {cards} WHERE cart_id = c.id) "
        f"FROM {cart} c WHERE c.user_id = %s"
    )


def cart_count(request):
    """The number of items in the cart (the sum of quantities), shoppers and visitors alike."""
    if not hasattr(request, "user") or not hasattr(request, "session"):
        return {}
    return {"nav_cart_count": SimpleLazyObject(lambda: _count(request))}
