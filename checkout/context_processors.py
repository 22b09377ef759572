"""`nav_cart_count` for the navigation bar's "Cart (n)" (data-testid="nav-cart")."""

from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.functional import SimpleLazyObject

from checkout.models import Cart, CartGiftCard, CartLine
from checkout.selectors import SESSION_CART


def _count(request) -> int:
    user = request.user
    if user.is_authenticated:
        # One query, only on pages that render the nav (the lazy object below): the lines'
        # quantities and the gift cards (each its own line) together.
        per_cart = {"cart": OuterRef("pk")}
        lines = CartLine.objects.filter(**per_cart).order_by().values("cart")
        cards = CartGiftCard.objects.filter(**per_cart).order_by().values("cart")
        counts = (
            Cart.objects.filter(user=user)
            .annotate(
                line_units=Coalesce(Subquery(lines.annotate(n=Sum("quantity")).values("n")), 0),
                gift_cards_count=Coalesce(Subquery(cards.annotate(n=Count("pk")).values("n")), 0),
            )
            .values_list("line_units", "gift_cards_count")
            .first()
        )
        return sum(counts) if counts else 0
    # A visitor's cart is in the session, which the page has already loaded to find the user:
    # no query. A line withdrawn from sale since is still counted until the cart page drops it.
    return sum(int(q) for q in request.session.get(SESSION_CART, {}).values())


def cart_count(request):
    """The number of items in the cart (the sum of quantities), shoppers and visitors alike."""
    if not hasattr(request, "user") or not hasattr(request, "session"):
        return {}
    return {"nav_cart_count": SimpleLazyObject(lambda: _count(request))}
