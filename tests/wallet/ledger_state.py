"""What the wallet has written, to prove that a refusal wrote nothing."""

from dataclasses import dataclass

from wallet.models import Account, ActivityReport, GiftCard, GiftCardBatch, Posting, Transfer


@dataclass(frozen=True)
class LedgerState:
    transfers: int
    postings: int
    balances: dict[int, int]
    cards: dict[int, tuple]
    batches: dict[int, str]
    reports: int


def ledger_state() -> LedgerState:
    """Every count, balance and gift card state a wallet write could change."""
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
    )
