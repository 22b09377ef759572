"""What the wallet has written, to prove that a refusal wrote nothing; and how the ledger state
machines check the whole ledger."""

import sys
from dataclasses import dataclass

from django.db import transaction
from hypothesis.stateful import RuleBasedStateMachine, invariant

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


class WalletMachine(RuleBasedStateMachine):
    """A state machine over the wallet services, each example in its own savepoint (rolled
    back in `teardown`: nothing has to be deleted, which PostgreSQL refuses for postings).

    `whole_ledger_check()` reads the whole ledger (reconcile, every balance against the
    model): it runs after every `WHOLE_LEDGER_EVERY`-th step and again when a run ends
    without an error. A wrong ledger stays wrong (postings are never changed, and the model
    keeps its own figures), so a mistake is still caught, at a third of the cost. Each
    machine keeps its cheap checks (no balance below zero) as invariants after every step.
    """

    WHOLE_LEDGER_EVERY = 3

    def __init__(self):
        super().__init__()
        self._example = transaction.atomic()
        self._example.__enter__()
        self._steps = -1  # the first check comes after the initial state, before any rule

    def whole_ledger_check(self) -> None:
        raise NotImplementedError

    @invariant()
    def the_whole_ledger_every_few_steps(self):
        self._steps += 1
        if self._steps % self.WHOLE_LEDGER_EVERY == 0:
            self.whole_ledger_check()

    def teardown(self):
        try:
            # Hypothesis tears down in a `finally`: an error of the run is in flight then,
            # and must not be hidden by one of this check's.
            if sys.exception() is None and self._steps % self.WHOLE_LEDGER_EVERY:
                self.whole_ledger_check()
        finally:
            transaction.set_rollback(True)
            self._example.__exit__(None, None, None)
