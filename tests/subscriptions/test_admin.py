"""Subscribe & Save in the staff admin: subscriptions found by shopper, product or id and
filtered by status and next delivery (in each region's own day), the run history with each
period's order or failure, read-only for everyone (docs/interface.md §9)."""

import datetime

import pytest
from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from checkout.models import SavedCard
from subscriptions import admin as subscriptions_admin
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.services import subscription_pause, subscriptions_run
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.subscriptions.given import subscribable_product, subscription_give

pytestmark = pytest.mark.django_db

LIST = "/admin/subscriptions/subscription/"
HISTORY = "/admin/subscriptions/subscriptionperiod/"


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True, email="staff@example.com")


@pytest.fixture
def staff_client(staff):
    return login_staff(Client(), staff)


def _rows(response) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def _shopper(email: str, region: str = "US"):
    return UserFactory(email=email, region_id=region)


def test_search_finds_by_shopper_email_product_and_id(staff_client):
    coffee = subscribable_product(name="Coffee Beans 1kg", slug="coffee-beans-x")
    soap = subscribable_product(name="Dish Soap Refill", slug="dish-soap-x")
    alice = subscription_give(_shopper("alice@example.com"), coffee)
    bob = subscription_give(_shopper("bob@example.com"), soap)

    assert _rows(staff_client.get(LIST, {"q": "alice@"})) == {alice.pk}
    assert _rows(staff_client.get(LIST, {"q": "dish-soap"})) == {bob.pk}
    assert _rows(staff_client.get(LIST, {"q": "coffee beans"})) == {alice.pk}
    assert _rows(staff_client.get(LIST, {"q": str(bob.pk)})) == {bob.pk}
    assert _rows(staff_client.get(LIST, {"q": "nobody"})) == set()
    # Ids no subscription has, even beyond a bigint, find nothing (never an error).
    for term in ("-1", "99999999999999999999999", "1.5"):
        assert _rows(staff_client.get(LIST, {"q": term})) == set()


def test_filters_by_status_and_pause_reason(staff_client):
    active = subscription_give(_shopper("a@example.com"))
    paused = subscription_give(_shopper("p@example.com"))
    subscription_pause(user=paused.user, subscription_id=paused.pk)

    assert _rows(staff_client.get(LIST, {"status__exact": "paused"})) == {paused.pk}
    assert _rows(staff_client.get(LIST, {"status__exact": "active"})) == {active.pk}
    assert _rows(staff_client.get(LIST, {"pause_reason__exact": "shopper"})) == {paused.pk}
    assert _rows(staff_client.get(LIST, {"pause_reason__exact": "payment_failed"})) == set()


def test_the_next_delivery_filter_counts_days_in_each_subscriptions_region(
    staff_client, monkeypatch
):
    """At 20:00 UTC on 10 January it is already the 11th in Tokyo, still the 10th in New
    York: a delivery on the 11th is due today in JP, within the next 7 days in the US."""
    now = datetime.datetime(2027, 1, 10, 20, 0, tzinfo=datetime.UTC)
    real_today = subscriptions_admin.region_today
    monkeypatch.setattr(
        subscriptions_admin, "region_today", lambda region: real_today(region, now=now)
    )
    product = subscribable_product()
    day = datetime.date(2027, 1, 11)
    jp = subscription_give(_shopper("jp@example.com", "JP"), product, due=day)
    us = subscription_give(_shopper("us@example.com", "US"), product, due=day)
    us_overdue = subscription_give(
        _shopper("late@example.com", "US"), product, due=day.replace(day=9)
    )
    us_later = subscription_give(
        _shopper("far@example.com", "US"), product, due=day.replace(day=18)
    )
    jp_week = subscription_give(_shopper("wk@example.com", "JP"), product, due=day.replace(day=18))

    assert _rows(staff_client.get(LIST, {"due": "today"})) == {jp.pk}
    assert _rows(staff_client.get(LIST, {"due": "soon"})) == {us.pk, jp_week.pk}
    assert _rows(staff_client.get(LIST, {"due": "overdue"})) == {us_overdue.pk}
    assert _rows(staff_client.get(LIST, {"due": "later"})) == {us_later.pk}
    # A hand-made value is no filter at all, never an error.
    assert len(_rows(staff_client.get(LIST, {"due": "yesterday"}))) == 5


def test_the_run_history_filter_counts_days_in_each_subscriptions_region(staff_client, monkeypatch):
    now = datetime.datetime(2027, 1, 10, 20, 0, tzinfo=datetime.UTC)  # the 11th in Tokyo
    real_today = subscriptions_admin.region_today
    monkeypatch.setattr(
        subscriptions_admin, "region_today", lambda region: real_today(region, now=now)
    )
    jp = subscription_give(_shopper("jp@example.com", "JP"))
    us = subscription_give(_shopper("us@example.com", "US"))

    def period(sub, index, day):
        return SubscriptionPeriod.objects.create(
            subscription=sub, index=index, due_date=day, status="skipped"
        ).pk

    jp_today = period(jp, 0, datetime.date(2027, 1, 11))
    us_ahead = period(us, 0, datetime.date(2027, 1, 11))
    us_today = period(us, 1, datetime.date(2027, 1, 10))
    jp_past = period(jp, 1, datetime.date(2027, 1, 4))  # 7 days before the 11th
    us_earlier = period(us, 2, datetime.date(2027, 1, 2))

    assert _rows(staff_client.get(HISTORY, {"due": "today"})) == {jp_today, us_today}
    assert _rows(staff_client.get(HISTORY, {"due": "ahead"})) == {us_ahead}
    assert _rows(staff_client.get(HISTORY, {"due": "past"})) == {jp_past}
    assert _rows(staff_client.get(HISTORY, {"due": "earlier"})) == {us_earlier}


@pytest.mark.parametrize("url", [LIST, HISTORY])
def test_a_list_costs_the_same_queries_for_one_row_as_for_ten(
    staff_client, django_assert_num_queries, django_capture_on_commit_callbacks, url
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(count):
        for _ in range(count):
            subscription_give(UserFactory(), subscribable_product())
        with django_capture_on_commit_callbacks(execute=True):
            subscriptions_run()  # a placed period (and its order) for each

    add(1)
    staff_client.get(url)  # the session and the permissions are cached from here on
    with CaptureQueriesContext(connection) as one:
        assert len(_rows(staff_client.get(url))) == 1
    add(9)
    with django_assert_num_queries(len(one)):
        assert len(_rows(staff_client.get(url))) == 10


@pytest.fixture
def history(django_capture_on_commit_callbacks):
    """A subscription with its first delivery placed (its order) and the next one failed (its
    saved card removed, no balance): the run history staff read."""
    user = _shopper("history@example.com")
    sub = subscription_give(user, subscribable_product(price=1899))
    with django_capture_on_commit_callbacks(execute=True):
        subscriptions_run()
    SavedCard.objects.filter(user=user).delete()
    sub.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        subscriptions_run(date=sub.next_date)
    placed = SubscriptionPeriod.objects.get(subscription=sub, index=0)
    failed = SubscriptionPeriod.objects.get(subscription=sub, index=1)
    assert (placed.status, failed.status) == ("placed", "failed")
    return sub, placed, failed


def test_the_change_page_shows_the_run_history_with_the_order_link(staff_client, history):
    sub, placed, failed = history

    response = staff_client.get(f"{LIST}{sub.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    order_url = f"/admin/checkout/order/{placed.order_id}/change/"
    assert f'<a href="{order_url}">{placed.order.number}</a>' in html
    assert "Payment failed" in html
    assert failed.message
    assert failed.message in html
    assert "history@example.com" in html
    # Read-only: no save button, no input of the subscription's own fields.
    assert 'name="_save"' not in html
    assert 'name="quantity"' not in html


def test_the_run_history_list_finds_periods_by_order_number_email_and_status(staff_client, history):
    sub, placed, failed = history
    other = subscription_give(_shopper("other@example.com"))
    subscription_give_skip = SubscriptionPeriod.objects.create(
        subscription=other, index=0, due_date=other.next_date, status="skipped"
    )

    assert _rows(staff_client.get(HISTORY, {"q": placed.order.number})) == {placed.pk}
    assert _rows(staff_client.get(HISTORY, {"q": "history@"})) == {placed.pk, failed.pk}
    assert _rows(staff_client.get(HISTORY, {"status__exact": "failed"})) == {failed.pk}
    assert _rows(staff_client.get(HISTORY, {"status__exact": "skipped"})) == {
        subscription_give_skip.pk
    }
    html = staff_client.get(HISTORY).content.decode()
    assert f'href="/admin/checkout/order/{placed.order_id}/change/"' in html
    assert f'href="{LIST}{sub.pk}/change/"' in html


@pytest.mark.parametrize("model_admin", [Subscription, SubscriptionPeriod])
def test_no_one_adds_changes_or_deletes_not_even_a_superuser(staff, model_admin):
    request = RequestFactory().get("/admin/")
    request.user = staff
    admin = site._registry[model_admin]

    assert admin.has_view_permission(request)
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request)
    assert not admin.has_delete_permission(request)


def test_add_delete_and_a_posted_edit_are_refused_and_write_nothing(staff_client):
    sub = subscription_give(_shopper("keep@example.com"), quantity=2)
    before = Subscription.objects.values().get(pk=sub.pk)

    assert staff_client.get(f"{LIST}add/").status_code == 403
    assert staff_client.post(f"{LIST}{sub.pk}/delete/", {"post": "yes"}).status_code == 403
    response = staff_client.post(
        f"{LIST}{sub.pk}/change/", {"quantity": "20", "status": "cancelled", "_save": "Save"}
    )
    assert response.status_code == 403
    response = staff_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [sub.pk], "post": "yes"}
    )
    assert Subscription.objects.values().get(pk=sub.pk) == before


@pytest.mark.parametrize("url", [LIST, HISTORY, f"{LIST}1/change/"])
def test_shoppers_and_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    shopper = UserFactory()
    client.force_login(shopper)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "url",
    [
        f"{LIST}abc/change/",
        f"{LIST}1.5/change/",
        f"{LIST}999999/change/",
        f"{HISTORY}abc/change/",
        f"{LIST}abc/history/",
    ],
)
def test_a_malformed_or_missing_id_is_a_404(staff_client, url):
    assert staff_client.get(url).status_code == 404


def test_subscription_support_staff_look_subscriptions_up_and_change_nothing(history):
    """The "Subscription support" group (a migration): the list, a subscription with its run
    history and the order it links to, read only."""
    from django.contrib.auth.models import Group

    sub, placed, _ = history
    support = UserFactory(is_staff=True, email="support@example.com")
    support.groups.add(Group.objects.get(name="Subscription support"))
    client = login_staff(Client(), support)

    assert client.get(LIST).status_code == 200
    assert client.get(HISTORY).status_code == 200
    assert client.get(f"{LIST}{sub.pk}/change/").status_code == 200
    assert client.get(f"/admin/checkout/order/{placed.order_id}/change/").status_code == 200
    before = list(Subscription.objects.values())
    assert client.post(f"{LIST}{sub.pk}/change/", {"quantity": "9"}).status_code == 403
    assert list(Subscription.objects.values()) == before


def test_staff_mark_a_product_subscribable_and_a_digital_one_is_refused_not_a_500(staff_client):
    """The catalog's product form carries `subscribable`: only a physical product may be, and
    the form says so (the model's constraint) instead of the database refusing the save."""
    product = subscribable_product(price=999)
    url = f"/admin/catalog/product/{product.pk}/change/"
    page = staff_client.get(url)
    assert page.status_code == 200
    assert 'name="subscribable"' in page.content.decode()
    form = {
        "name": product.name,
        "slug": product.slug,
        "category": product.category_id,
        "kind": "digital",
        "description": product.description,
        "is_active": "on",
        "coins": "0",
        "bonus_coins": "0",
        "subscribable": "on",
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
    }
    refused = staff_client.post(url, form)
    assert refused.status_code == 200
    assert "Only a physical product can be Subscribe &amp; Save." in refused.content.decode()
    product.refresh_from_db()
    assert (product.kind, product.subscribable) == ("physical", True)
