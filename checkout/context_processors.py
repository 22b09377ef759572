"""`nav_cart_count` for the navigation bar's "Cart (n)" (data-testid="nav-cart")."""

from django.db.models import Sum
from django.utils.functional import SimpleLazyObject

from checkout.models import CartLine
from checkout.selectors import SESSION_CART


def _count(request) -> int:
    user = request.user
    if user.is_authenticated:
        # One aggregate query, only on pages that render the nav (the lazy object below).
        total = CartLine.objects.filter(cart__user=user).aggregate(n=Sum("quantity"))["n"]
        return total or 0
    # A visitor's cart is in the session, which the page has already loaded to find the user:
    # no query. A line withdrawn from sale since is still counted until the cart page drops it.
    return sum(int(q) for q in request.session.get(SESSION_CART, {}).values())


def cart_count(request):
    """The number of items in the cart (the sum of quantities), shoppers and visitors alike."""
    if not hasattr(request, "user") or not hasattr(request, "session"):
        return {}
    return {"nav_cart_count": SimpleLazyObject(lambda: _count(request))}
