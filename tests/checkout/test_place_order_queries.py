"""The queries of placing an order, exact and flat (docs/interface.md §10, "Queries"): the
place-order POST and `order_place` for each kind of order (tests/checkout/place_order_cases.py),
and a Subscribe & Save delivery (`order_place` with a basket), each counted twice: once the
shopper has placed one order of every kind, and again after more orders, wallet rows, products
and promotions. The capture and every hook after the commit are counted with the order.

A transactional test: each statement runs as it does in production (the capture and the hooks
after the real commit, each transaction its own; `serialized_rollback`, as in the race tests,
so the flush after it leaves the content types and permissions as later tests expect).
Counted: every statement but the transaction control (BEGIN on SQLite; PostgreSQL sends none
through the cursor), and apart, the savepoints (nested atomic blocks). The same on both
databases but for the ledger's one-shopper transfers: PostgreSQL writes each one's transfer,
postings and balance as one statement, SQLite as three (wallet/statements.py).
"""

import re

import pytest
from django.db import connection
from django.test import Client

from catalog.models import Region
from catalog.regions import region_today
from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE, checkout_quote_get
from subscriptions.services import subscription_deliver
from tests.accounts.factories import UserFactory
from tests.checkout.place_order_cases import CASES, counted, history_grow
from tests.checkout.shopping import fund, new_key
from tests.subscriptions.given import subscribable_product, subscription_give

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PLACE = "/checkout/place-order/"

# Statements (without transaction control) and savepoints, of each case: the POST and
# `order_place` itself (measured on b2a8ad8). The POST adds the user, read with their region
# (accounts/auth_backends.py; the session comes from the cache).
EXPECTED = {
    "card_only": {"post": (31, 0), "order_place": (30, 0)},
    "balance_all": {"post": (38, 0), "order_place": (37, 0)},
    "balance_all_digital": {"post": (50, 2), "order_place": (49, 2)},
    "balance_card": {"post": (43, 0), "order_place": (42, 0)},
    "code_and_credit": {"post": (53, 2), "order_place": (52, 2)},
    "gift_card": {"post": (43, 2), "order_place": (42, 2)},
    "coins": {"post": (39, 1), "order_place": (38, 1)},
    "coin_pack": {"post": (45, 2), "order_place": (44, 2)},
}
# A Subscribe & Save delivery (`subscription_deliver`: balance, then the saved card).
DELIVERY = (43, 0)
# The transfers of one shopper account each case posts: on PostgreSQL two statements fewer each.
ONE_SHOPPER_TRANSFERS = {
    "card_only": 0,
    "balance_all": 1,
    "balance_all_digital": 2,
    "balance_card": 1,
    "code_and_credit": 1,
    "gift_card": 0,
    "coins": 1,
    "coin_pack": 1,
    "delivery": 1,
}


def _on_this_database(name: str, figures: tuple[int, int]) -> tuple[int, int]:
    statements, savepoints = figures
    if connection.vendor == "postgresql":
        statements -= 2 * ONE_SHOPPER_TRANSFERS[name]
    return statements, savepoints


def _session(user, extra: dict) -> dict:
    return {SESSION_USE_BALANCE: True, **extra}


def _post(client: Client, user, case):
    stored = client.session
    for key in (SESSION_USE_BALANCE, SESSION_PROMO_CODES):
        stored.pop(key, None)  # the case before's choices
    stored.update(_session(user, case.fill(user)))
    stored.save()
    quote = checkout_quote_get(user=user, session=client.session)
    # What the summary's form sends: the figures the shopper saw, the card for the rest.
    data = {
        "idempotency_key": new_key(),
        "card_number": case.card,
        "expected_total": quote.total,
        "expected_amount_due": quote.amount_due,
        "expected_balance": quote.balance_applied,
        "expected_coins": quote.coins_applied,
    }
    with counted() as queries:
        response = client.post(PLACE, data)
    refusal = re.findall(r'data-reason="[^"]*"[^<]*', response.content.decode())
    assert response.status_code == 302, refusal
    assert response["Location"].startswith("/orders/CP-")
    return queries


def _order_place(user, case):
    from checkout.services import order_place

    session = _session(user, case.fill(user))
    with counted() as queries:
        order_place(user=user, session=session, idempotency_key=new_key(), card_number=case.card)
    return queries


def _deliver(user):
    today = region_today(Region.objects.get(code=user.region_id))
    sub = subscription_give(user, subscribable_product(), due=today)
    fund(user, 500)  # part of the delivery: the saved card pays the rest
    with counted() as queries:
        outcome = subscription_deliver(subscription_id=sub.pk, today=today)
    assert outcome.status == "placed", outcome
    return queries


def _figures(queries) -> tuple[int, int]:
    return queries.statements, queries.savepoints


def test_placing_an_order_makes_the_same_exact_queries_however_long_the_history():
    user = UserFactory(region_id="US")
    client = Client()
    client.force_login(user)
    # One order of every kind first: the shopper's accounts exist (a shopper's first order
    # makes them), and promotions are on offer that these carts do not get.
    history_grow(user)
    seen, reports = {}, {}
    for run in (1, 2):
        for name, case in CASES.items():
            for how, place in (("post", _post), ("order_place", _order_place)):
                args = (client, user, case) if how == "post" else (user, case)
                queries = place(*args)
                seen[name, how, run] = _figures(queries)
                reports[name, how, run] = queries.report()
        queries = _deliver(user)
        seen["delivery", run] = _figures(queries)
        reports["delivery", run] = queries.report()
        if run == 1:
            history_grow(user, rounds=2)

    expected = {
        **{
            (n, how, run): _on_this_database(n, EXPECTED[n][how])
            for n in CASES
            for how in EXPECTED[n]
            for run in (1, 2)
        },
        **{("delivery", run): _on_this_database("delivery", DELIVERY) for run in (1, 2)},
    }
    wrong = [key for key in expected if seen[key] != expected[key]]
    assert not wrong, f"counted: {seen}\n\n" + "\n\n".join(
        f"{key}: {seen[key]} (statements, savepoints), expected {expected[key]}\n{reports[key]}"
        for key in wrong
    )
