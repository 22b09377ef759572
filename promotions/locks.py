"""The only home of `select_for_update` in promotions. Promotion usage is one level of the
global lock order (docs/ledger.md): after the cart or the order, before gift cards, credit
lots and wallet accounts; inside it the Promotion rows, then PromotionAmount rows, then
PromotionCode rows, each in primary-key order."""

from collections.abc import Iterable

from promotions.models import Promotion, PromotionAmount, PromotionCode


def promotion_qs_select_for_update(*, promotion_ids: Iterable[int]):
    """Lock promotions in primary-key order: their `uses_count` is checked and moved here."""
    return Promotion.objects.select_for_update().filter(pk__in=list(promotion_ids)).order_by("pk")


def promotion_amount_qs_select_for_update(*, promotion_ids: Iterable[int], currency: str):
    """Lock the promotions' amount rows of one currency (their budget), in primary-key order."""
    return (
        PromotionAmount.objects.select_for_update()
        .filter(promotion_id__in=list(promotion_ids), currency=currency)
        .order_by("pk")
    )


def promotion_code_qs_select_for_update(*, code_ids: Iterable[int]):
    """Lock codes in primary-key order (a single-use code is spent or given back here)."""
    return PromotionCode.objects.select_for_update().filter(pk__in=list(code_ids)).order_by("pk")
