"""The limits and races of the wallet and checkout, proven over HTTP across two gunicorn
processes that share one PostgreSQL and one Redis (tests/http/conftest.py).

Each test builds its state through the real services, then fires its requests from threads
released together by a barrier, alternating between the two processes (each of 2 workers of 4
threads), and asserts the exact bound; the ledger reconciles after each.

    (a) 40 wrong codes from one account          → exactly 10 looked up, 30 locked (429)
        50 wrong codes from one client address   → exactly 30 looked up, 20 locked (429)
    (b) one code, 20 shoppers                    → one redemption, the balance credited once
    (c) one balance, 20 orders each taking all   → one order; the balance never below zero
        (paid by the balance alone, or with a card: every losing hold voided)
    (d) one checkout form posted 20 times        → one order, one charge, the same page for all

Run: `scripts/test-http.sh` (the `http` stage of `make test`).
"""

import uuid
from collections import Counter

import pytest
from django.core.management import call_command

from catalog.demo import catalog_seed
from catalog.models import Price
from checkout.models import Order, Payment, ShippingRate, VoidedAuthorization
from tests.accounts.factories import UserFactory
from tests.http.conftest import send, send_together
from tests.http.shoppers import carts_fill, shopper_sign_in
from tests.wallet.factories import issue_card
from tests.wallet.test_races import wrong_code
from wallet import guessing
from wallet.models import Account, GiftCard, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get

pytestmark = [pytest.mark.http, pytest.mark.postgres, pytest.mark.usefixtures("live_db")]

SHOPPERS = 20
PRODUCT = "django-in-depth"  # shipped, in the demo catalog's US store
APPROVED_CARD = "4242 4242 4242 4242"
REDEEM = "/gift-cards/redeem/"
PLACE_ORDER = "/checkout/place-order/"


def address(i: int) -> str:
    """A client address of its own for request `i` (TEST-NET-2)."""
    return f"198.51.100.{i % 250 + 1}"


def outcomes(answers) -> Counter:
    """{(status, data-reason or redirect target): n}."""
    return Counter((a.status, a.reason or a.location) for a in answers)


def assert_ledger_clean() -> None:
    report = ledger_reconcile()
    assert report.clean, report
    call_command("wallet_reconcile", stdout=open("/dev/null", "w"))  # noqa: SIM115 (exits 1)


def new_key() -> str:
    """An idempotency key as the checkout page renders it (32 hex digits)."""
    return uuid.uuid4().hex


def order_price() -> int:
    """What one PRODUCT costs a US shopper with standard shipping, in cents."""
    shipping = ShippingRate.objects.get(region_id="US", method="standard").amount
    return Price.objects.get(product__slug=PRODUCT, region_id="US").amount + shipping


# (a) the guessing limits --------------------------------------------------------------------


def test_forty_wrong_codes_from_one_account_over_two_processes_look_up_exactly_ten(servers):
    """Each guess from an address of its own, so only the account's limit (10) applies."""
    shopper = shopper_sign_in(UserFactory(region_id="US"))
    guesses = 40

    answers = send_together(
        servers,
        [
            {"method": "POST", "path": REDEEM, "shopper": shopper, "address": address(i)}
            | {"code": wrong_code(i)}
            for i in range(guesses)
        ],
    )

    assert outcomes(answers) == {(200, "not_found"): 10, (429, "locked"): guesses - 10}
    user_id = shopper.user.pk
    assert guessing.redemption_failure_count(user_id=user_id)[f"user:{user_id}"] == 10
    # Locked: a real card is refused too, from a fresh address, on either process.
    card = issue_card(region="US", amount=2500)
    for port in servers:
        refused = send(port, "POST", REDEEM, shopper=shopper, address="192.0.2.77", code=card.code)
        assert (refused.status, refused.reason) == (429, "locked")
    assert GiftCard.objects.get(pk=card.card.pk).status == GiftCard.Status.ACTIVE
    assert wallet_balance_get(user=shopper.user).amount == 0
    assert_ledger_clean()


def test_fifty_wrong_codes_from_one_address_over_two_processes_look_up_exactly_thirty(servers):
    """25 accounts, two guesses each (under their own limit), behind one address (30)."""
    ip = "203.0.113.9"
    shoppers = [shopper_sign_in(UserFactory(region_id="US")) for _ in range(25)]

    answers = send_together(
        servers,
        [
            {"method": "POST", "path": REDEEM, "shopper": shoppers[i // 2], "address": ip}
            | {"code": wrong_code(100 + i)}
            for i in range(50)
        ],
    )

    assert outcomes(answers) == {(200, "not_found"): 30, (429, "locked"): 20}
    counts = guessing.redemption_failure_count(user_id=shoppers[0].user.pk, ip=ip)
    assert counts[f"ip:{ip}"] == 30
    card = issue_card(region="US", amount=2500)
    newcomer = shopper_sign_in(UserFactory(region_id="US"))
    refused = send(servers[1], "POST", REDEEM, shopper=newcomer, address=ip, code=card.code)
    assert (refused.status, refused.reason) == (429, "locked")
    # The same account from another address is under its own limits only.
    redeemed = send(
        servers[0], "POST", REDEEM, shopper=shoppers[0], address="192.0.2.8", code=card.code
    )
    assert (redeemed.status, redeemed.location) == (302, "/wallet/")
    assert wallet_balance_get(user=shoppers[0].user).amount == 2500
    assert wallet_balance_get(user=newcomer.user).amount == 0
    assert_ledger_clean()


# (b) one code, many shoppers ----------------------------------------------------------------


def test_one_code_from_twenty_shoppers_over_two_processes_redeems_once(servers):
    card = issue_card(region="US", amount=2500)
    shoppers = [shopper_sign_in(UserFactory(region_id="US")) for _ in range(SHOPPERS)]

    answers = send_together(
        servers,
        [
            {"method": "POST", "path": REDEEM, "shopper": s, "address": address(i)}
            | {"code": card.code}
            for i, s in enumerate(shoppers)
        ],
    )

    assert outcomes(answers) == {(302, "/wallet/"): 1, (200, "already_redeemed"): SHOPPERS - 1}
    (winner,) = [s for s, a in zip(shoppers, answers, strict=True) if a.status == 302]
    redeemed = GiftCard.objects.get(pk=card.card.pk)
    assert (redeemed.status, redeemed.redeemed_by_id) == (GiftCard.Status.REDEEMED, winner.user.pk)
    assert [wallet_balance_get(user=s.user).amount for s in shoppers].count(0) == SHOPPERS - 1
    assert wallet_balance_get(user=winner.user).amount == 2500
    credits = Transfer.objects.filter(
        kind=Transfer.Kind.GIFTCARD_REDEEM, postings__account__user__in=[s.user for s in shoppers]
    ).distinct()
    assert credits.count() == 1
    assert_ledger_clean()


# (c) one balance, many orders ---------------------------------------------------------------


def customer_balances_after(user) -> list[int]:
    return list(
        Posting.objects.filter(account__user=user, account__kind=Account.Kind.CUSTOMER)
        .order_by("pk")
        .values_list("balance_after", flat=True)
    )


@pytest.mark.parametrize("paid_by", ["balance", "balance-and-card"])
def test_twenty_orders_each_taking_the_whole_balance_over_two_processes_place_one(servers, paid_by):
    """Twenty tabs with keys of their own: the balance pays the whole order (or 25.00 of it,
    the card the rest); it pays once, never below zero, and every other card hold is voided."""
    catalog_seed()
    price = order_price()
    balance = price if paid_by == "balance" else 2500
    card_number = "" if paid_by == "balance" else APPROVED_CARD
    shopper = shopper_sign_in(UserFactory(region_id="US"))
    carts_fill([shopper.user], product=PRODUCT, balance=balance)
    holds_before = VoidedAuthorization.objects.count()

    answers = send_together(
        servers,
        [
            {"method": "POST", "path": PLACE_ORDER, "shopper": shopper, "address": address(i)}
            | {"idempotency_key": new_key(), "card_number": card_number}
            for i in range(SHOPPERS)
        ],
    )

    placed = [a for a in answers if a.status == 302]
    assert len(placed) == 1, outcomes(answers)
    order = Order.objects.get(user=shopper.user)
    assert placed[0].location == f"/orders/{order.number}/"
    refused = Counter(a.reason for a in answers if a.status != 302)
    assert sum(refused.values()) == SHOPPERS - 1
    assert set(refused) <= {"changed", "empty_cart", "card_required"}, refused
    assert {a.status for a in answers if a.status != 302} == {200}
    assert (order.total, order.balance_applied, order.card_charged) == (
        price,
        balance,
        price - balance,
    )
    assert wallet_balance_get(user=shopper.user).amount == 0
    assert customer_balances_after(shopper.user) == [balance, 0]
    payments = Payment.objects.filter(order__user=shopper.user)
    if paid_by == "balance":
        assert not payments.exists()
    else:
        assert [(p.status, p.amount) for p in payments] == [
            (Payment.Status.CAPTURED, price - balance)
        ]
    # A losing tab that had its card authorised released the hold, and recorded it.
    holds = VoidedAuthorization.objects.order_by("pk")[holds_before:]
    assert all(hold.status == VoidedAuthorization.Status.VOIDED for hold in holds)
    assert len(holds) <= SHOPPERS - 1
    assert_ledger_clean()


# (d) one checkout form, replayed ------------------------------------------------------------


def test_one_checkout_form_posted_twenty_times_over_two_processes_makes_one_order(servers):
    """The balance pays 25.00 and the card the rest: one order, one debit, one capture, and
    every replay lands on the same order page."""
    shopper = shopper_sign_in(UserFactory(region_id="US"))
    carts_fill([shopper.user], product=PRODUCT, balance=2500)
    price = order_price()
    key = new_key()

    answers = send_together(
        servers,
        [
            {"method": "POST", "path": PLACE_ORDER, "shopper": shopper, "address": address(i)}
            | {"idempotency_key": key, "card_number": APPROVED_CARD}
            for i in range(SHOPPERS)
        ],
    )

    order = Order.objects.get(user=shopper.user)
    assert outcomes(answers) == {(302, f"/orders/{order.number}/"): SHOPPERS}
    assert (order.idempotency_key, order.balance_applied, order.card_charged) == (
        key,
        2500,
        price - 2500,
    )
    payment = Payment.objects.get(order=order)
    assert payment.status == Payment.Status.CAPTURED
    assert payment.amount == price - 2500
    assert (
        Transfer.objects.filter(
            kind=Transfer.Kind.ORDER_PAYMENT, postings__account__user=shopper.user
        )
        .distinct()
        .count()
        == 1
    )
    assert wallet_balance_get(user=shopper.user).amount == 0
    assert customer_balances_after(shopper.user) == [2500, 0]
    assert_ledger_clean()
