"""/subscriptions/ and its actions (docs/interface.md §14): the list with each subscription's
next delivery, price and run history; skip, pause, resume, change and cancel, each a POST that
says what happened; refusals that say why and write nothing; another shopper's subscription a
404; the sign-in redirect; CSRF; a flat query count."""

import datetime

import pytest
from django.test import Client

from catalog.models import Price
from checkout.models import Order
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.services import (
    subscription_cancel,
    subscription_pause,
    subscription_skip,
    subscriptions_run,
)
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import fund, shop_state
from tests.subscriptions.given import subscribable_product, subscription_give
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

LIST = "/subscriptions/"
ACTIONS = ("skip", "pause", "resume", "cancel", "change")
# Measured on SQLite; flat however many subscriptions and periods: user, nav balance,
# nav cart count, count, page, its periods (with their orders), active count (the region
# read with the user).
LIST_QUERIES = 7


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _state():
    """Everything a page's refusal must leave as it was: the shop's and Subscribe & Save's."""
    return (
        shop_state(),
        list(Subscription.objects.order_by("pk").values()),
        list(SubscriptionPeriod.objects.order_by("pk").values()),
    )


def _message(response) -> str:
    return hook(response, "message").text


@pytest.fixture
def shopper(db):
    return UserFactory(region_id="US")


@pytest.fixture
def sub(shopper):
    return subscription_give(shopper, subscribable_product(price=1899, name="Coffee beans"))


def test_anonymous_visitors_are_sent_to_sign_in(client, sub):
    for url in (LIST, *(f"{LIST}{sub.pk}/{action}/" for action in ACTIONS)):
        for method in (client.get, client.post):
            response = method(url)
            if response.status_code == 405:  # a POST-only action asked with GET
                continue
            assert response.status_code == 302, url
            assert response["Location"] == f"/accounts/login/?next={url}"


def test_no_subscription_yet_shows_the_way_to_the_essentials(shopper):
    response = _client(shopper).get(LIST)

    assert response.status_code == 200
    assert hook(response, "subscriptions-empty")
    assert hook(response, "essentials-link").attrs["href"] == "/?category=essentials"
    assert hooks(response, "subscription-row") == []


def test_a_row_shows_the_next_delivery_and_its_price_now(shopper, sub):
    Subscription.objects.filter(pk=sub.pk).update(quantity=2, next_date=datetime.date(2027, 2, 1))

    response = _client(shopper).get(LIST)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    row = hook(response, "subscription-row")
    assert row.attrs == row.attrs | {
        "data-id": str(sub.pk),
        "data-product": sub.product.slug,
        "data-status": "active",
        "data-next-date": "2027-02-01",
        "data-quantity": "2",
        "data-every": "1",
        "data-amount-minor": str(2 * 1804),  # 18.99 less 5%, rounded half up: 18.04
    }
    assert "1 February 2027" in hook(response, "subscription-next").text
    assert "$36.08" in hook(response, "subscription-price").text


def test_the_price_follows_the_catalog_and_the_discount_step(shopper, sub):
    Price.objects.filter(product=sub.product, region_id="US").update(amount=2000)
    for _ in range(4):  # five active subscriptions: 10% off each
        subscription_give(shopper, subscribable_product(price=500))

    response = _client(shopper).get(LIST)

    row = next(r for r in hooks(response, "subscription-row") if r.attrs["data-id"] == str(sub.pk))
    assert row.attrs["data-amount-minor"] == "1800"


def test_a_paused_row_says_why_and_offers_resume(shopper, sub):
    Subscription.objects.filter(pk=sub.pk).update(status="paused", pause_reason="payment_failed")

    response = _client(shopper).get(LIST)

    row = hook(response, "subscription-row")
    assert (row.attrs["data-status"], row.attrs["data-next-date"]) == ("paused", "")
    reason = hook(response, "pause-reason")
    assert reason.attrs["data-reason"] == "payment_failed"
    assert "top up your balance or save a new card below, then resume" in reason.text.lower()
    assert hook(response, "subscription-resume")
    assert hooks(response, "subscription-pause") == hooks(response, "subscription-skip") == []


def test_the_run_history_links_each_placed_order(shopper, sub, django_capture_on_commit_callbacks):
    fund(shopper, 10_000)
    with django_capture_on_commit_callbacks(execute=True):
        subscriptions_run()
    subscription_skip(user=shopper, subscription_id=sub.pk)
    order = Order.objects.get(user=shopper)

    response = _client(shopper).get(LIST)

    periods = hooks(response, "subscription-period")
    assert [p.attrs["data-status"] for p in periods] == ["skipped", "placed"]
    assert f'href="/orders/{order.number}/"' in response.content.decode()


def test_the_history_shows_the_last_five_periods(shopper, sub):
    for _ in range(7):
        subscription_skip(user=shopper, subscription_id=sub.pk)

    response = _client(shopper).get(LIST)

    periods = hooks(response, "subscription-period")
    assert len(periods) == 5
    dates = [p.attrs["data-due-date"] for p in periods]
    assert dates == sorted(dates, reverse=True)


def test_twenty_a_page(shopper):
    for _ in range(21):
        subscription_give(shopper, subscribable_product())
    client = _client(shopper)

    first, second = client.get(LIST), client.get(f"{LIST}?page=2")

    assert (len(hooks(first, "subscription-row")), len(hooks(second, "subscription-row"))) == (
        20,
        1,
    )
    assert "?page=2" in first.content.decode()


def test_the_list_query_count_does_not_grow(shopper, django_assert_num_queries):
    client = _client(shopper)
    subscription_give(shopper, subscribable_product())
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(LIST).status_code == 200

    for _ in range(4):
        sub = subscription_give(shopper, subscribable_product())
        subscription_skip(user=shopper, subscription_id=sub.pk)
        subscription_skip(user=shopper, subscription_id=sub.pk)
    subscription_pause(user=shopper, subscription_id=sub.pk)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST)
    assert len(hooks(response, "subscription-row")) == 5
    assert len(hooks(response, "subscription-period")) == 8


def test_only_ones_own_subscriptions_are_listed(shopper, sub):
    other = UserFactory(region_id="US")
    subscription_give(other, sub.product)

    response = _client(shopper).get(LIST)

    assert [r.attrs["data-id"] for r in hooks(response, "subscription-row")] == [str(sub.pk)]


# --- Actions -------------------------------------------------------------------------------


def test_skip_moves_to_the_next_date_and_says_so(shopper, sub):
    first = sub.next_date

    response = _client(shopper).post(
        f"{LIST}{sub.pk}/skip/", {"due_date": first.isoformat()}, follow=True
    )

    assert response.redirect_chain == [(LIST, 302)]
    sub.refresh_from_db()
    assert sub.next_date > first
    assert _message(response) == (
        f"Skipped: your next delivery is on {sub.next_date.day} "
        f"{sub.next_date:%B} {sub.next_date.year}."
    )
    period = SubscriptionPeriod.objects.get(subscription=sub)
    assert (period.status, period.due_date) == ("skipped", first)


def test_a_second_skip_of_the_same_date_skips_nothing_more(shopper, sub):
    client = _client(shopper)
    data = {"due_date": sub.next_date.isoformat()}
    client.post(f"{LIST}{sub.pk}/skip/", data, follow=True)
    sub.refresh_from_db()
    after_first = sub.next_date

    response = client.post(f"{LIST}{sub.pk}/skip/", data, follow=True)

    sub.refresh_from_db()
    assert sub.next_date == after_first
    assert SubscriptionPeriod.objects.filter(subscription=sub).count() == 1
    assert "Skipped: your next delivery is on" in _message(response)


def test_the_skip_confirmation_page_names_the_date_of_the_email(shopper, sub):
    url = f"{LIST}{sub.pk}/skip/?date={sub.next_date.isoformat()}"

    response = _client(shopper).get(url)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    confirm = hook(response, "skip-confirm")
    assert confirm.attrs["data-due-date"] == sub.next_date.isoformat()
    assert f"Skip the delivery of {sub.next_date.day} {sub.next_date:%B}?" in confirm.text
    assert f'name="due_date" value="{sub.next_date.isoformat()}"' in response.content.decode()


@pytest.mark.parametrize("date", ["", "tomorrow", "2027-02-30", "9" * 300])
def test_a_skip_page_with_a_bad_date_offers_the_next_delivery(shopper, sub, date):
    response = _client(shopper).get(f"{LIST}{sub.pk}/skip/", {"date": date})

    assert response.status_code == 200
    assert hook(response, "skip-confirm").attrs["data-due-date"] == sub.next_date.isoformat()


def test_the_skip_page_of_a_moved_date_says_so(shopper, sub):
    old = sub.next_date
    subscription_skip(user=shopper, subscription_id=sub.pk)
    sub.refresh_from_db()

    response = _client(shopper).get(f"{LIST}{sub.pk}/skip/?date={old.isoformat()}")

    assert "no longer the next one" in hook(response, "skip-confirm").text


def test_pause_then_resume(shopper, sub):
    client = _client(shopper)

    paused = client.post(f"{LIST}{sub.pk}/pause/", follow=True)
    sub.refresh_from_db()
    assert (sub.status, sub.pause_reason) == ("paused", "shopper")
    assert _message(paused) == "Paused: no delivery of Coffee beans until you resume it."

    resumed = client.post(f"{LIST}{sub.pk}/resume/", follow=True)
    sub.refresh_from_db()
    assert sub.status == "active"
    assert _message(resumed).startswith("Resumed: your next delivery of Coffee beans is on ")


def test_change_quantity_and_frequency(shopper, sub):
    response = _client(shopper).post(
        f"{LIST}{sub.pk}/change/", {"quantity": "3", "every": "2"}, follow=True
    )

    sub.refresh_from_db()
    assert (sub.quantity, sub.every) == (3, 2)
    assert _message(response).startswith(
        "Changed: 3 \N{MULTIPLICATION SIGN} Coffee beans every 2 months, "
        "$54.12 a delivery (5% off), next delivery on "
    )


def test_the_cancel_button_asks_first_then_cancels(shopper, sub):
    client = _client(shopper)

    asked = client.get(f"{LIST}{sub.pk}/cancel/")
    sub.refresh_from_db()
    assert sub.status == "active"
    assert "Cancel your subscription to Coffee beans?" in hook(asked, "cancel-confirm").text

    response = client.post(f"{LIST}{sub.pk}/cancel/", follow=True)
    sub.refresh_from_db()
    assert sub.status == "cancelled"
    assert _message(response).startswith("Cancelled: no more deliveries of Coffee beans.")
    row = hook(response, "subscription-row")
    assert (row.attrs["data-status"], row.attrs["data-next-date"]) == ("cancelled", "")
    assert hooks(response, "subscription-change-form") == []


# --- Refusals: they say why and write nothing ---------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "21"}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"quantity": "9" * 40}, "quantity"),
        ({"quantity": "-1"}, "quantity"),
        ({"every": "4"}, "every"),
        ({"every": "x"}, "every"),
        ({}, "invalid"),
    ],
)
def test_a_bad_change_is_refused_and_writes_nothing(shopper, sub, data, reason):
    before = _state()

    response = _client(shopper).post(f"{LIST}{sub.pk}/change/", data)

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == reason
    assert hook(response, "subscription-row")  # the list again
    assert _state() == before


@pytest.mark.parametrize("action", ["skip", "pause", "resume", "change"])
def test_an_action_on_a_cancelled_subscription_is_refused(shopper, sub, action):
    subscription_cancel(user=shopper, subscription_id=sub.pk)
    before = _state()

    response = _client(shopper).post(f"{LIST}{sub.pk}/{action}/", {"quantity": "2"})

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] in {"cancelled", "invalid"}
    assert _state() == before


def test_resuming_a_product_no_longer_sold_is_refused(shopper, sub):
    subscription_pause(user=shopper, subscription_id=sub.pk)
    Price.objects.filter(product=sub.product).delete()
    before = _state()

    response = _client(shopper).post(f"{LIST}{sub.pk}/resume/")

    assert hook(response, "form-error").attrs["data-reason"] == "not_subscribable"
    assert _state() == before
    assert "No longer sold in the United States store" in hook(response, "subscription-price").text


def test_a_bad_skip_date_is_refused(shopper, sub):
    before = _state()

    response = _client(shopper).post(f"{LIST}{sub.pk}/skip/", {"due_date": "soon"})

    assert hook(response, "form-error").attrs["data-reason"] == "invalid"
    assert _state() == before


@pytest.mark.parametrize("action", ACTIONS)
def test_another_shoppers_subscription_is_a_404_for_every_action(sub, action):
    intruder = UserFactory(region_id="US")
    client = _client(intruder)
    before = _state()

    assert client.post(f"{LIST}{sub.pk}/{action}/", {"quantity": "2"}).status_code == 404
    if action in {"skip", "cancel"}:
        assert client.get(f"{LIST}{sub.pk}/{action}/").status_code == 404
    assert _state() == before


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1.5", "0", "99999999999999999999"])
def test_a_malformed_id_is_a_404(shopper, sub, bad_id):
    client = _client(shopper)
    for action in ACTIONS:
        assert client.post(f"{LIST}{bad_id}/{action}/").status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_without_the_csrf_token_is_forbidden(shopper, sub, action):
    before = _state()

    response = _client(shopper, enforce_csrf_checks=True).post(
        f"{LIST}{sub.pk}/{action}/", {"quantity": "2"}
    )

    assert response.status_code == 403
    assert _state() == before


def test_the_forms_post_with_their_csrf_token(shopper, sub):
    client = _client(shopper, enforce_csrf_checks=True)
    page = client.get(LIST).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]

    response = client.post(f"{LIST}{sub.pk}/pause/", {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.status == "paused"


def test_get_of_a_post_only_action_writes_nothing(shopper, sub):
    before = _state()
    client = _client(shopper)

    for action in ("pause", "resume", "change"):
        assert client.get(f"{LIST}{sub.pk}/{action}/").status_code == 405
    assert _state() == before


def test_the_skip_page_of_a_paused_subscription_offers_no_skip(shopper, sub):
    subscription_pause(user=shopper, subscription_id=sub.pk)

    response = _client(shopper).get(f"{LIST}{sub.pk}/skip/?date={sub.next_date.isoformat()}")

    assert response.status_code == 200
    assert "No delivery to skip" in hook(response, "skip-confirm").text
    assert hooks(response, "confirm") == []


def test_cancelling_twice_cancels_once(shopper, sub):
    client = _client(shopper)
    client.post(f"{LIST}{sub.pk}/cancel/")
    sub.refresh_from_db()
    cancelled_at = sub.cancelled_at

    again = client.post(f"{LIST}{sub.pk}/cancel/")
    asked = client.get(f"{LIST}{sub.pk}/cancel/")

    assert again.status_code == 302
    sub.refresh_from_db()
    assert sub.cancelled_at == cancelled_at
    assert "Already cancelled" in hook(asked, "cancel-confirm").text
    assert hooks(asked, "confirm") == []


def test_prices_are_written_in_the_shoppers_currency_and_locale(db):
    shopper = UserFactory(region_id="JP")
    subscription_give(shopper, subscribable_product(price=1000), quantity=3)

    response = _client(shopper).get(LIST)

    row = hook(response, "subscription-row")
    assert row.attrs["data-amount-minor"] == "2850"  # ¥950 each
    assert "￥2,850" in hook(response, "subscription-price").text.replace("¥", "￥")
