"""The shopper's reward points: beside the balance on /wallet/, the /wallet/points/ page and
its conversion form (docs/interface.md §13)."""

import datetime
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from catalog.regions import region_zone
from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import credit_state, fund
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import assert_num_queries, count_queries
from tests.wallet.units_given import (
    coins_give,
    order_reference,
    paid_for,
    points_earn,
    points_give,
    unit_balances,
)
from wallet.models import CreditLot, Posting, Transfer
from wallet.services import activity_report_create, points_order_settle

pytestmark = pytest.mark.django_db

WALLET = "/wallet/"
POINTS = "/wallet/points/"
CONVERT = "/wallet/points/convert/"
# user with region, the nav's balance, the points balance (three: accounts, pending
# earnings, points owed), the activity's count and its page of rows.
POINTS_QUERIES = 7
# As tests/wallet/test_views.py WALLET_QUERIES: /wallet/ with its points and coins.
WALLET_QUERIES = 3


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _key() -> str:
    return uuid.uuid4().hex


def _day(moment: datetime.datetime, user) -> datetime.date:
    return timezone.localtime(moment, region_zone(user.region)).date()


# ---- /wallet/ ----------------------------------------------------------------------------


def test_the_wallet_shows_points_and_coins_beside_the_balance_with_links(user):
    points_give(user, 1_250)
    points_earn(user, 120)
    coins_give(user, 600)

    response = _client_for(user).get(WALLET)

    points = hook(response, "points-balance")
    assert (points.attrs["data-points"], points.attrs["data-pending"]) == ("1250", "120")
    assert points.attrs["href"] == POINTS
    assert "1,250 points" in points.text
    assert "120 points pending" in points.text
    coins = hook(response, "coins-balance")
    assert coins.attrs["data-coins"] == "600"
    assert coins.attrs["href"] == "/wallet/coins/"
    assert "600 coins" in coins.text


def test_the_wallet_shows_zero_points_and_coins_before_any(shopper_client):
    response = shopper_client.get(WALLET)
    points = hook(response, "points-balance")
    assert (points.attrs["data-points"], points.attrs["data-pending"]) == ("0", "0")
    assert hook(response, "coins-balance").attrs["data-coins"] == "0"
    assert "pending" not in points.text


def test_the_wallet_never_shows_another_shoppers_points(user, other_user):
    points_give(other_user, 900)
    coins_give(other_user, 50)
    response = _client_for(user).get(WALLET)
    assert hook(response, "points-balance").attrs["data-points"] == "0"
    assert hook(response, "coins-balance").attrs["data-coins"] == "0"


@pytest.mark.parametrize("orders", [1, 8])
def test_the_wallet_query_count_stays_flat_with_points_and_coins(orders):
    shopper = UserFactory()
    fund(shopper, 100)  # a row of money: the page reads its rows
    for _ in range(orders):
        points_give(shopper, 100)
        points_earn(shopper, 10)
        coins_give(shopper, 5)
    client = _client_for(shopper)
    with assert_num_queries(WALLET_QUERIES):
        client.get(WALLET)


def test_converted_credit_says_no_expiry_on_the_wallet(user):
    points_give(user, 500)
    _client_for(user).post(CONVERT, {"points": "500", "idempotency_key": _key()})

    response = _client_for(user).get(WALLET)

    lot = hook(response, "promo-credit")
    assert lot.attrs["data-amount-minor"] == "500"
    assert lot.attrs["data-expires"] == "never"
    assert "No expiry" in lot.text
    assert "9999" not in response.text
    assert hook(response, "wallet-balance").attrs["data-amount-minor"] == "500"


# ---- /wallet/points/ ---------------------------------------------------------------------


def test_the_points_page_shows_available_pending_with_days_and_the_form(user):
    points_give(user, 1_250)
    soon = timezone.now() - datetime.timedelta(days=3)
    first = points_earn(user, 120, delivered_at=soon)
    points_earn(user, 30, delivered_at=soon)  # the same day: one line of 150
    later = points_earn(user, 75)

    response = _client_for(user).get(POINTS)

    assert response.status_code == 200
    balance = hook(response, "points-balance")
    assert (balance.attrs["data-points"], balance.attrs["data-pending"]) == ("1250", "225")
    assert balance.attrs["data-owed"] == "0"
    assert hook(response, "points-available").text == "1,250 points"
    assert hook(response, "points-pending").text == "225 points"
    lots = hooks(response, "points-pending-lot")
    first_day, later_day = _day(first.release_at, user), _day(later.release_at, user)
    assert [(lot.attrs["data-points"], lot.attrs["data-release"]) for lot in lots] == [
        ("150", first_day.isoformat()),
        ("75", later_day.isoformat()),
    ]
    assert lots[0].text == f"150 points on {first_day.day} {first_day:%b %Y}"
    assert hooks(response, "points-owed") == []
    page = response.content.decode()
    assert 'name="idempotency_key"' in page
    assert 'value="1000"' in page  # the most that converts now, in whole steps
    assert "$5.00 of promotional credit" in page


def test_the_points_page_for_a_shopper_with_none_explains_how_to_earn(shopper_client):
    response = shopper_client.get(POINTS)
    assert response.status_code == 200
    balance = hook(response, "points-balance")
    assert (balance.attrs["data-points"], balance.attrs["data-pending"]) == ("0", "0")
    empty = hook(response, "points-activity-empty")
    assert "1 point for every $1.00" in empty.text
    assert "14 days" in empty.text
    assert hooks(response, "points-activity-row") == []
    assert hook(response, "points-convert-unavailable").text == (
        "You can convert once you have 500 points available; you have 0 points."
    )
    assert b"<fieldset disabled>" in response.content


def test_points_owed_are_shown_with_a_plain_explanation(user):
    reference = order_reference()
    old = timezone.now() - datetime.timedelta(days=20)
    points_earn(user, 600, delivered_at=old, reference=reference)
    from wallet.services import points_convert, points_release

    points_release(now=timezone.now())
    points_convert(user=user, points=500, idempotency_key="points-convert:test:owed")
    # The order is refunded in full after its points were converted: 500 are owed.
    points_order_settle(user=user, reference=reference, currency="USD", paid=0)

    response = _client_for(user).get(POINTS)

    owed = hook(response, "points-owed")
    assert owed.attrs["data-points"] == "500"
    assert "You owe 500 points" in owed.text
    assert "next points you earn" in owed.text
    assert hook(response, "points-balance").attrs["data-owed"] == "500"
    assert unit_balances(user).available == 0


def test_points_rows_say_what_moved_with_the_order_link(user):
    reference = order_reference()
    number = reference.removeprefix("order:")
    old = timezone.now() - datetime.timedelta(days=20)
    earning = points_earn(user, 1_200, delivered_at=old, reference=reference)
    from wallet.services import points_convert, points_release

    points_release(now=timezone.now())
    points_convert(user=user, points=1_000, idempotency_key="points-convert:test:rows")
    points_order_settle(user=user, reference=reference, currency="USD", paid=paid_for(1_100, "USD"))

    rows = hooks(_client_for(user).get(POINTS), "points-activity-row")

    day = _day(earning.release_at, user)
    got = [(r.attrs["data-kind"], r.attrs["data-points"], r.attrs["data-balance"]) for r in rows]
    assert got == [
        ("points_reversal", "-100", "available"),
        ("points_convert", "-1000", "available"),
        ("points_release", "1200", "available"),
        ("points_release", "-1200", "pending"),
        ("points_earn", "1200", "pending"),
    ]
    assert f"Taken back: order {number} was refunded" in rows[0].text
    assert "Converted to $10.00 of credit (no expiry)" in rows[1].text
    assert f"Now available: earned on order {number}" in rows[2].text
    assert f"Earned on order {number}, available on {day.day} {day:%b %Y}" in rows[4].text
    assert f"View order {number}" in rows[4].text
    assert "View order" not in rows[1].text
    assert "\u22121,000 points" in rows[1].text
    assert "+1,200 points" in rows[4].text


def test_a_release_that_settles_points_owed_says_so(user):
    reference = order_reference()
    old = timezone.now() - datetime.timedelta(days=20)
    points_earn(user, 500, delivered_at=old, reference=reference)
    from wallet.services import points_convert, points_release

    points_release(now=timezone.now())
    points_convert(user=user, points=500, idempotency_key="points-convert:test:settle")
    points_order_settle(user=user, reference=reference, currency="USD", paid=0)
    points_give(user, 800)  # 500 of it settle what is owed

    rows = hooks(_client_for(user).get(POINTS), "points-activity-row")

    assert rows[0].attrs["data-points"] == "300"
    assert "500 points went to the points you owed" in rows[0].text
    assert unit_balances(user).available == 300


def test_a_points_row_can_be_reported_and_its_report_page_reads_points(user):
    points_earn(user, 120)
    client = _client_for(user)
    posting = Posting.objects.get(account__user=user)
    link = hook(client.get(POINTS), "activity-report")
    assert link.attrs["href"] == f"/wallet/activity/{posting.pk}/report/"

    form = client.get(link.attrs["href"])
    assert "+120 points" in form.content.decode().replace("\xa0", " ")
    activity_report_create(user=user, posting=posting, message="Where are my points?")

    reported = hook(client.get(POINTS), "activity-reported")
    assert "Reported · Open" in reported.text


def test_the_points_page_never_shows_another_shoppers_rows(user, other_user):
    points_give(other_user, 700)
    points_give(user, 100)
    rows = hooks(_client_for(user).get(POINTS), "points-activity-row")
    assert len(rows) == 3
    assert hook(_client_for(user).get(POINTS), "points-balance").attrs["data-points"] == "100"


def test_the_points_activity_is_paginated_newest_first(user, settings):
    settings.WALLET_ACTIVITY_PAGE_SIZE = 4
    for points in (100, 200, 300):
        points_give(user, points)  # three rows each: earned, moved, available
    client = _client_for(user)

    first = hooks(client.get(POINTS), "points-activity-row")
    second = hooks(client.get(POINTS, {"page": 2}), "points-activity-row")
    third = hooks(client.get(POINTS, {"page": 3}), "points-activity-row")
    beyond = hooks(client.get(POINTS, {"page": 99}), "points-activity-row")
    junk = hooks(client.get(POINTS, {"page": "abc"}), "points-activity-row")

    assert [len(first), len(second), len(third)] == [4, 4, 1]
    assert first[0].attrs["data-points"] == "300"
    assert third[0].attrs == {**third[0].attrs, "data-kind": "points_earn", "data-points": "100"}
    assert [r.attrs for r in beyond] == [r.attrs for r in third]
    assert [r.attrs for r in junk] == [r.attrs for r in first]
    assert "Page 1 of 3" in client.get(POINTS).content.decode()


@pytest.mark.parametrize("orders", [1, 12])
def test_the_points_page_query_count_stays_flat_with_history(orders):
    shopper = UserFactory()
    for _ in range(orders):
        points_give(shopper, 600)
        points_earn(shopper, 50)
    for posting in Posting.objects.filter(account__user=shopper)[:orders]:
        activity_report_create(user=shopper, posting=posting, message="Looks wrong")
    client = _client_for(shopper)
    with assert_num_queries(POINTS_QUERIES):
        client.get(POINTS)
    with assert_num_queries(POINTS_QUERIES):
        client.get(POINTS, {"page": 2})


# ---- POST /wallet/points/convert/ ----------------------------------------------------------


def test_converting_adds_credit_without_expiry_and_says_so(user):
    points_give(user, 1_250)
    client = _client_for(user)

    response = client.post(CONVERT, {"points": "1,000", "idempotency_key": _key()}, follow=True)

    assert response.redirect_chain == [(POINTS, 302)]
    assert hook(response, "message").text == (
        "Converted 1,000 points to $10.00 of promotional credit (no expiry)."
    )
    assert hook(response, "points-balance").attrs["data-points"] == "250"
    lot = CreditLot.objects.get(user=user)
    assert (lot.amount, lot.currency, lot.never_expires) == (1_000, "USD", True)
    transfer = Transfer.objects.get(kind=Transfer.Kind.POINTS_CONVERT)
    assert transfer.idempotency_key.startswith(f"points-convert:{user.pk}:")


def test_a_yen_shopper_converts_500_points_to_500_yen():
    shopper = UserFactory(region_id="JP")
    points_give(shopper, 500)
    response = _client_for(shopper).post(
        CONVERT, {"points": "500", "idempotency_key": _key()}, follow=True
    )
    message = hook(response, "message").text
    assert message.startswith("Converted 500 points to ")
    assert "500 of promotional credit (no expiry)." in message
    assert CreditLot.objects.get(user=shopper).amount == 500


def test_a_replayed_form_converts_once_and_answers_the_first_result(user):
    # Exactly enough for one: the replay is answered from the first conversion, not refused.
    points_give(user, 500)
    client = _client_for(user)
    form = {"points": "500", "idempotency_key": _key()}

    first = client.post(CONVERT, form, follow=True)
    again = client.post(CONVERT, form, follow=True)

    assert hook(first, "message").text == hook(again, "message").text
    assert "Converted 500 points to $5.00" in hook(again, "message").text
    assert again.redirect_chain == [(POINTS, 302)]
    assert Transfer.objects.filter(kind=Transfer.Kind.POINTS_CONVERT).count() == 1
    assert CreditLot.objects.get(user=user).amount == 500
    assert unit_balances(user).available == 0


@pytest.mark.parametrize(
    ("points", "reason", "says"),
    [
        ("750", "not_multiple", "steps of 500"),
        ("1500", "too_few", "You have 1,200 points available"),
    ],
)
def test_a_refused_conversion_shows_the_page_again_with_400_and_writes_nothing(
    user, points, reason, says
):
    points_give(user, 1_200)
    before = credit_state()

    response = _client_for(user).post(CONVERT, {"points": points, "idempotency_key": _key()})

    assert response.status_code == 400
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == reason
    assert says in error.text
    assert hook(response, "points-balance").attrs["data-points"] == "1200"
    assert f'value="{points}"' in response.content.decode()  # kept to be corrected
    assert credit_state() == before


def test_a_form_used_for_another_conversion_is_refused_as_a_conflict(user):
    points_give(user, 1_500)
    client = _client_for(user)
    key = _key()
    client.post(CONVERT, {"points": "500", "idempotency_key": key})
    before = credit_state()

    response = client.post(CONVERT, {"points": "1000", "idempotency_key": key})

    assert response.status_code == 400
    assert hook(response, "form-error").attrs["data-reason"] == "conflict"
    assert credit_state() == before
    # The page shown again carries a fresh key: the next try is a new conversion.
    assert key not in response.content.decode()


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({}, "required"),
        ({"points": ""}, "required"),
        ({"points": "   "}, "required"),
        ({"points": "-500"}, "invalid"),
        ({"points": "0"}, "not_multiple"),
        ({"points": "500.0"}, "invalid"),
        ({"points": "5e2"}, "invalid"),
        ({"points": "5,00"}, "invalid"),
        ({"points": "five hundred"}, "invalid"),
        ({"points": "\uff15\uff10\uff10"}, "invalid"),  # full-width digits
        ({"points": "50\x000"}, "invalid"),
        ({"points": "9" * 19}, "too_large"),
        ({"points": "9" * 400}, "too_large"),
        ({"points": "9" * 21 + "x"}, "invalid"),
        ({"points": "1000000500"}, "too_large"),
    ],
)
def test_bad_input_shows_a_clear_error_with_400_and_writes_nothing(user, form, reason):
    points_give(user, 1_000)
    before = credit_state()

    response = _client_for(user).post(CONVERT, {"idempotency_key": _key(), **form})

    assert response.status_code == 400
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == reason
    assert "points" in error.text
    assert "\x00" not in response.content.decode()
    assert credit_state() == before


@pytest.mark.parametrize("key", [None, "", "abc", "A" * 32, "0" * 33, "0" * 31 + "\x00"])
def test_a_form_without_its_key_is_expired_with_400_and_writes_nothing(user, key):
    points_give(user, 1_000)
    before = credit_state()
    form = {"points": "500"} if key is None else {"points": "500", "idempotency_key": key}

    response = _client_for(user).post(CONVERT, form)

    assert response.status_code == 400
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "expired"
    assert "Open the page again" in error.text
    assert credit_state() == before


def test_converting_without_the_csrf_token_is_forbidden_and_writes_nothing(user):
    points_give(user, 1_000)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    before = credit_state()

    response = client.post(CONVERT, {"points": "500", "idempotency_key": _key()})

    assert response.status_code == 403
    assert credit_state() == before


def test_the_page_renders_a_csrf_token_and_the_form_posts_with_it(user):
    points_give(user, 500)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(POINTS)
    token = page.cookies["csrftoken"].value
    response = client.post(
        CONVERT,
        {"points": "500", "idempotency_key": _key(), "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert unit_balances(user).available == 0


def test_convert_answers_only_post(shopper_client):
    assert shopper_client.get(CONVERT).status_code == 405


@pytest.mark.parametrize(("method", "url"), [("get", POINTS), ("post", CONVERT)])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, url):
    response = getattr(client, method)(url, {"points": "500", "idempotency_key": _key()})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert CreditLot.objects.count() == 0


def test_the_refused_page_runs_a_flat_number_of_queries(user):
    """The page shown again after a refusal reads what the page reads, whatever the history."""
    points_give(user, 100)
    client = _client_for(user)
    one = count_queries(lambda: client.post(CONVERT, {"points": "500", "idempotency_key": _key()}))
    for _ in range(5):
        points_give(user, 100)
    many = count_queries(
        lambda: client.post(CONVERT, {"points": "5000", "idempotency_key": _key()})
    )
    assert one == many
