"""What the wallet has written, to prove that a refusal wrote nothing."""

from dataclasses import dataclass

from wallet.models import (
    Account,
    ActivityReport,
    CreditLot,
    GiftCard,
    GiftCardBatch,
    PointsEarning,
    PointsShortfall,
    Posting,
    Transfer,
)


@dataclass(frozen=True)
class LedgerState:
    transfers: int
    postings: int
    balances: dict[int, int]
    cards: dict[int, tuple]
    batches: dict[int, str]
    reports: int
    # Reward points: each earning (points, reversed, released_at), each shortfall (points,
    # settled); and the credit lots (remaining) a conversion of points would add.
    earnings: dict[int, tuple]
    shortfalls: dict[int, tuple]
    lots: dict[int, int]


def ledger_state() -> LedgerState:
    """Every count, balance, gift card, points and credit lot state a wallet write could
    change."""
    return LedgerState(
        transfers=Transfer.objects.count(),
        postings=Posting.objects.count(),
        balances=dict(Account.objects.values_list("pk", "balance")),
        cards={
            pk: rest
            for pk, *rest in GiftCard.objects.values_list(
                "pk", "status", "redeemed_by", "redeemed_at"
            )
        },
        batches=dict(GiftCardBatch.objects.values_list("pk", "status")),
        reports=ActivityReport.objects.count(),
        earnings={
            pk: rest
            for pk, *rest in PointsEarning.objects.values_list(
                "pk", "points", "reversed", "released_at"
            )
        },
        shortfalls={
            pk: rest for pk, *rest in PointsShortfall.objects.values_list("pk", "points", "settled")
        },
        lots=dict(CreditLot.objects.values_list("pk", "remaining")),
    )


def machine_examples(count: int) -> int:
    """How many examples a ledger state machine runs: `count` on SQLite, a third on PostgreSQL.
    The rules' arithmetic is the same on both and is explored in full in the SQLite stage; the
    PostgreSQL stage runs enough to meet its constraints and triggers on every rule."""
    from django.conf import settings

    on_postgresql = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    return max(count // 3, 5) if on_postgresql else count
