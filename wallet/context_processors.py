from django.utils.functional import SimpleLazyObject

from wallet.selectors import wallet_balance_get


def wallet_balance(request):
    """`nav_balance` for the navigation bar; one query, and only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_balance": SimpleLazyObject(lambda: wallet_balance_get(user=user))}
