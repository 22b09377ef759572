"""The only home of `select_for_update` in the wallet.

Row locks are always taken in primary-key order so that two transactions locking the same
rows cannot deadlock. Across apps the global order is written at the top of
`checkout/services.py`: cart → promotion usage → gift cards → wallet accounts.
"""

from collections.abc import Iterable

from wallet.models import Account, GiftCard, GiftCardBatch


def account_qs_select_for_update(*, account_ids: Iterable[int]):
    """Lock the given accounts, in primary-key order, for the rest of the transaction."""
    return Account.objects.select_for_update().filter(pk__in=set(account_ids)).order_by("pk")


def giftcard_qs_select_for_update(*, code_hash: str):
    """Lock the gift card with this code hash (at most one) for the rest of the transaction."""
    return (
        GiftCard.objects.select_for_update(of=("self",))
        .select_related("batch")
        .filter(code_hash=code_hash)
    )


def giftcardbatch_qs_select_for_update(*, batch_id: int):
    """Lock one gift card batch (its status moves one way: approved → issuing → issued)."""
    return GiftCardBatch.objects.select_for_update().filter(pk=batch_id)


def giftcard_qs_select_for_update_by_pk(*, card_id: int):
    """Lock one gift card by primary key (staff disabling or re-enabling it)."""
    return GiftCard.objects.select_for_update().filter(pk=card_id)
