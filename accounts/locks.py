"""The only home of `select_for_update` in accounts."""

from accounts.models import User


def user_qs_select_for_update(*, user_id: int):
    """Lock one user's row: two changes of a shopper's region queue here.

    `no_key`: a plain FOR UPDATE would also block every insert of a row pointing at the user
    (a cart, an order, a wallet account take a key-share lock on it), and a transaction that
    holds the cart while inserting an order would deadlock with a region change waiting for
    that cart. Nothing here changes the user's key, so FOR NO KEY UPDATE is enough.

    Join nothing to it (no `select_related("region")`): after waiting for another change,
    PostgreSQL re-checks the join with the new row against the region row it read before, and
    a user whose region just changed would drop out of the result.
    """
    return User.objects.select_for_update(no_key=True).filter(pk=user_id)
