"""No hot row: a shop (system) account is never a lock that shoppers wait on (docs/ledger.md
"Shop accounts"), proven deterministically on PostgreSQL.

Shopper A's redemption (or balance payment) runs inside a transaction that is held open right
after its writes, before its commit: every row lock it took is still held. Meanwhile shopper
B's redemption, and B's balance payment, in the same currency, must complete; they touch the
same shop accounts (`giftcards_outstanding`, `purchases`). Each waiting statement gets a
`lock_timeout`, so a lock that blocked would fail the test in seconds instead of hanging it.
A control proves the pause really holds A's locks: A's own second redemption waits (and times
out) meanwhile. Then A commits, and both shoppers' money and the ledger reconcile exactly.
"""

import threading

import pytest
from django.db import OperationalError, connection, transaction

from catalog.demo import catalog_seed
from checkout.services import order_place
from tests.accounts.factories import UserFactory
from tests.checkout.test_races import own_copy, own_session, shopper_with_cart
from tests.wallet.factories import issue_card
from tests.wallet.test_races import JOIN_TIMEOUT, run_together
from wallet.models import Account, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_redeem, system_account_get_or_create, wallet_debit
from wallet.services.ledger import Leg, transfer_create
from wallet.shop_balances import shop_balances_get

LOCK_TIMEOUT = "3s"  # how long a statement of B's may wait on a lock before it fails

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


class HeldOpen:
    """Run `call` in a thread, inside a transaction held open after it returns (its writes
    done, its locks held, not committed) until `commit()`."""

    def __init__(self, call):
        self.call = call
        self.written = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            with transaction.atomic():
                self.call()
                self.written.set()
                assert self.release.wait(JOIN_TIMEOUT), "never released"
        except BaseException as exc:  # reported to the test
            self.error = exc
        finally:
            self.written.set()
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.written.wait(JOIN_TIMEOUT)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc_info):
        self.release.set()
        self.thread.join(JOIN_TIMEOUT)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


def meanwhile(call):
    """Run `call` in another connection whose statements wait at most LOCK_TIMEOUT on a lock;
    return its result or the error it raised."""
    box: dict = {}

    def run():
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            box["value"] = call()
        except BaseException as exc:  # returned to the test
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive()
    return box.get("error", box.get("value"))


def assert_waited_on_a_lock(outcome):
    assert isinstance(outcome, OperationalError), outcome
    assert "lock timeout" in str(outcome)


def test_a_redemption_held_before_commit_does_not_hold_up_another_shoppers_redemption():
    a, b = UserFactory(region_id="US"), UserFactory(region_id="US")
    a_card, a_second, b_card = (issue_card(region="US", amount=2_500) for _ in range(3))
    # Each shopper's account exists already, so nothing waits on a first insert.
    giftcard_redeem(user=b, code=issue_card(region="US", amount=100).code)
    giftcard_redeem(user=a, code=issue_card(region="US", amount=100).code)

    with HeldOpen(lambda: giftcard_redeem(user=own_copy(a), code=a_card.code)):
        # The control: A's own second card waits on A's rows, held by the paused redemption.
        assert_waited_on_a_lock(meanwhile(lambda: giftcard_redeem(user=a, code=a_second.code)))
        # B's card credits the same shop account meanwhile, at once.
        redemption = meanwhile(lambda: giftcard_redeem(user=own_copy(b), code=b_card.code))
        assert not isinstance(redemption, BaseException), redemption
        assert redemption.balance == 2_600

    assert wallet_balance_get(user=a).amount == 2_600
    assert wallet_balance_get(user=b).amount == 2_600
    # Three cards of $25 and two of $1 issued; all redeemed but A's second card.
    shop = shop_balances_get(kinds=[Account.Kind.GIFTCARDS_OUTSTANDING])
    assert shop[(Account.Kind.GIFTCARDS_OUTSTANDING, "USD")] == 2_500
    assert ledger_reconcile().clean


def test_a_balance_payment_held_before_commit_does_not_hold_up_another_shoppers():
    price_paid = 1_000
    a = UserFactory(region_id="US")
    b = UserFactory(region_id="US")
    for shopper in (a, b):
        giftcard_redeem(user=shopper, code=issue_card(region="US", amount=5_000).code)
    b_card = issue_card(region="US", amount=2_500)
    # As in a running shop, the purchases account exists (its first insert is a one-off wait).
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")

    def pay(user, key):
        return wallet_debit(
            user=own_copy(user), amount=price_paid, idempotency_key=key, description="order"
        )

    with HeldOpen(lambda: pay(a, "a-pays")):
        assert_waited_on_a_lock(meanwhile(lambda: pay(a, "a-pays-again")))
        # B pays into the same `purchases` account, and redeems into the same liability.
        paid = meanwhile(lambda: pay(b, "b-pays"))
        assert not isinstance(paid, BaseException), paid
        redemption = meanwhile(lambda: giftcard_redeem(user=own_copy(b), code=b_card.code))
        assert not isinstance(redemption, BaseException), redemption

    assert wallet_balance_get(user=a).amount == 4_000
    assert wallet_balance_get(user=b).amount == 6_500
    assert Transfer.objects.filter(idempotency_key__in=["a-pays", "b-pays"]).count() == 2
    shop = shop_balances_get(kinds=[Account.Kind.PURCHASES])
    assert shop[(Account.Kind.PURCHASES, "USD")] == 2 * price_paid
    assert ledger_reconcile().clean


def test_an_order_paid_from_the_balance_held_before_commit_does_not_hold_up_another_shoppers():
    """The same through checkout: A's whole `order_place` (the balance pays all) held open."""
    catalog_seed()
    a = shopper_with_cart(balance=100_000)
    b = shopper_with_cart(balance=100_000)
    b_card = issue_card(region="US", amount=2_500)

    def place(user, key):
        return order_place(user=own_copy(user), session=own_session(), idempotency_key=key)

    with HeldOpen(lambda: place(a, "a-order")):
        order = meanwhile(lambda: place(b, "b-order"))
        assert not isinstance(order, BaseException), order
        redemption = meanwhile(lambda: giftcard_redeem(user=own_copy(b), code=b_card.code))
        assert not isinstance(redemption, BaseException), redemption

    price = order.total
    assert price > 0
    assert wallet_balance_get(user=a).amount == 100_000 - price
    assert wallet_balance_get(user=b).amount == 100_000 - price + 2_500
    shop = shop_balances_get(kinds=[Account.Kind.PURCHASES])
    assert shop[(Account.Kind.PURCHASES, "USD")] == 2 * price
    assert ledger_reconcile().clean


def test_one_key_of_a_transfer_between_shop_accounts_used_by_ten_threads_moves_once():
    """Nothing is locked when every leg is the shop's: the key's unique index decides, and the
    losers replay the winner's transfer instead of failing."""
    funding = system_account_get_or_create(kind=Account.Kind.GIFTCARDS_ISSUED, currency="USD")
    outstanding = system_account_get_or_create(
        kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency="USD"
    )
    legs = [Leg(funding.pk, -500), Leg(outstanding.pk, 500)]

    def issue():
        return transfer_create(
            idempotency_key="shop-only", kind="giftcard_issue", description="x", legs=legs
        )

    outcomes = run_together([issue] * 10)

    assert [o.error for o in outcomes] == [None] * 10
    assert sorted(o.value.replayed for o in outcomes) == [False] + [True] * 9
    assert len({o.value.transfer.pk for o in outcomes}) == 1
    shop = shop_balances_get(kinds=[Account.Kind.GIFTCARDS_OUTSTANDING])
    assert shop[(Account.Kind.GIFTCARDS_OUTSTANDING, "USD")] == 500
    assert ledger_reconcile().clean
