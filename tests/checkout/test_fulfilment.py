"""Order progress (docs/interface.md §10): placed → shipped → delivered, by staff in the admin
(POST only, audited); digital items delivered at once; the order page's timeline; the library;
the placed, shipped and refunded e-mails (text + HTML, a link to the order, no card number)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, TestCase, override_settings

from catalog.models import Product
from checkout.exceptions import OrderTransitionRefused
from checkout.services import order_deliver, order_refund, order_ship
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, fund, new_key, order_make, shop_state
from tests.checkout.test_payment_faults import CAPTURE_FAILS
from tests.wallet.pages import hook, hooks
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db

ORDER_PAGE_QUERIES = 9  # session, user, order, lines, refunds, promotions used, nav balance,
# region, cart count
LIBRARY_QUERIES = 7  # session, user, count, page of lines, nav balance, region, cart count


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", kind=Product.Kind.PHYSICAL, prices={"US": 2999})


@pytest.fixture
def ebook(db):
    return ProductFactory(name="Puzzle Book", prices={"US": 999})


@pytest.fixture
def shipper(db):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="fulfil_order"))
    return staff


@pytest.fixture
def refunder(db):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return staff


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _committed():
    """Run the on-commit work (the card capture, e-mails) as a real request would."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def _placed(user, *lines, card=APPROVED, **kwargs):
    fund(user, 1000)
    with _committed():
        order = order_make(user, *lines, card=card, **kwargs)
    order.refresh_from_db()
    return order


def _ship(order, by):
    return order_ship(order_id=order.pk, carrier="DHL", tracking_number="JD0123", by=by)


# --- transitions --------------------------------------------------------------------------


def test_ship_then_deliver(user, lamp, shipper, django_capture_on_commit_callbacks):
    order = _placed(user, (lamp, 1))
    assert order.status == "placed"
    with django_capture_on_commit_callbacks(execute=True):
        shipped = _ship(order, shipper)
    assert (shipped.status, shipped.carrier, shipped.tracking_number) == (
        "shipped",
        "DHL",
        "JD0123",
    )
    assert shipped.shipped_at is not None
    delivered = order_deliver(order_id=order.pk, by=shipper)
    assert delivered.status == "delivered"
    assert delivered.delivered_at >= delivered.shipped_at
    actions = list(AuditEntry.objects.filter(actor=shipper).values_list("action", "target"))
    assert actions == [
        ("order_delivered", f"order {order.number}"),
        ("order_shipped", f"order {order.number}"),
    ]


def test_delivered_only_after_shipped_and_nothing_written(user, lamp, shipper):
    order = _placed(user, (lamp, 1))
    before = shop_state()
    with pytest.raises(OrderTransitionRefused, match="not shipped yet"):
        order_deliver(order_id=order.pk, by=shipper)
    assert shop_state() == before
    assert not AuditEntry.objects.filter(actor=shipper).exists()


def test_a_payment_failed_order_cannot_be_shipped(user, lamp, shipper):
    order = _placed(user, (lamp, 1), card=CAPTURE_FAILS)
    assert order.status == "payment_failed"
    before = shop_state()
    with pytest.raises(OrderTransitionRefused, match="cannot be shipped"):
        _ship(order, shipper)
    assert shop_state() == before


def test_a_refunded_order_cannot_be_shipped(user, lamp, shipper, refunder):
    order = _placed(user, (lamp, 1))
    order_refund(
        order_id=order.pk,
        from_balance=order.balance_applied,
        from_card=order.card_charged,
        card_to_balance=False,
        reason="x",
        idempotency_key=new_key(),
        by=refunder,
    )
    order.refresh_from_db()
    assert order.status == "refunded"
    before = shop_state()
    with pytest.raises(OrderTransitionRefused):
        _ship(order, shipper)
    assert shop_state() == before


def test_a_partly_refunded_order_still_ships(user, lamp, shipper, refunder):
    order = _placed(user, (lamp, 2))
    order_refund(
        order_id=order.pk,
        from_balance=500,
        from_card=0,
        card_to_balance=False,
        reason="x",
        idempotency_key=new_key(),
        by=refunder,
    )
    shipped = _ship(order, shipper)
    assert shipped.shipped_at is not None
    assert shipped.status == "partially_refunded"  # the refund stays visible


def test_shipping_twice_or_a_digital_order_is_refused(user, lamp, ebook, shipper):
    order = _placed(user, (lamp, 1))
    _ship(order, shipper)
    with pytest.raises(OrderTransitionRefused, match="already shipped"):
        _ship(order, shipper)
    digital = order_make(user, (ebook, 1), card=APPROVED)
    assert digital.status == "delivered"
    with pytest.raises(OrderTransitionRefused, match="nothing to ship"):
        _ship(digital, shipper)
    with pytest.raises(OrderTransitionRefused, match="already delivered"):
        order_deliver(order_id=digital.pk, by=shipper)


def test_without_the_permission_or_the_tracking_nothing_moves(user, lamp, shipper):
    order = _placed(user, (lamp, 1))
    with pytest.raises(OrderTransitionRefused, match="permission"):
        _ship(order, UserFactory(is_staff=True))
    with pytest.raises(OrderTransitionRefused, match="tracking"):
        order_ship(order_id=order.pk, carrier="DHL", tracking_number="  ", by=shipper)
    order.refresh_from_db()
    assert (order.status, order.shipped_at) == ("placed", None)


def test_a_mixed_order_waits_for_its_parcel(user, lamp, ebook):
    order = _placed(user, (lamp, 1), (ebook, 1))
    assert order.status == "placed"
    assert [line.is_digital for line in order.lines.all()] == [False, True]


# --- the admin ----------------------------------------------------------------------------


def test_staff_ship_and_deliver_in_the_admin(user, lamp, admin_client, mailoutbox):
    order = _placed(user, (lamp, 1))
    change = f"/admin/checkout/order/{order.pk}/change/"
    page = admin_client.get(change)
    assert hook(page, "mark-shipped")
    assert admin_client.get(f"/admin/checkout/order/{order.pk}/ship/").status_code == 405
    with _committed():
        response = admin_client.post(
            f"/admin/checkout/order/{order.pk}/ship/",
            {"carrier": "Royal Mail", "tracking_number": "RM123"},
        )
    assert (response.status_code, response["Location"]) == (302, change)
    order.refresh_from_db()
    assert (order.status, order.carrier) == ("shipped", "Royal Mail")
    assert [m.subject for m in mailoutbox][-1].endswith("is on its way")
    assert hook(admin_client.get(change), "mark-delivered")
    admin_client.post(f"/admin/checkout/order/{order.pk}/deliver/")
    order.refresh_from_db()
    assert order.status == "delivered"


def test_a_refused_admin_step_is_a_message(user, lamp, admin_client):
    order = _placed(user, (lamp, 1))
    response = admin_client.post(f"/admin/checkout/order/{order.pk}/deliver/", follow=True)
    assert response.status_code == 200
    assert "not shipped yet" in response.content.decode()
    bad = admin_client.post(f"/admin/checkout/order/{order.pk}/ship/", {"carrier": ""}, follow=True)
    assert "Enter the carrier" in bad.content.decode()
    order.refresh_from_db()
    assert order.status == "placed"


def test_staff_without_the_permission_see_no_ship_form(user, lamp):
    order = _placed(user, (lamp, 1))
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client = login_staff(Client(), viewer)
    page = client.get(f"/admin/checkout/order/{order.pk}/change/")
    assert page.status_code == 200
    assert hooks(page, "mark-shipped") == []
    client.post(f"/admin/checkout/order/{order.pk}/ship/", {"carrier": "X", "tracking_number": "Y"})
    order.refresh_from_db()
    assert order.status == "placed"


# --- the shopper's pages ------------------------------------------------------------------


def test_the_order_page_shows_the_timeline(user, lamp, shipper):
    order = _placed(user, (lamp, 1))
    client = _client_for(user)
    steps = hooks(client.get(f"/orders/{order.number}/"), "timeline-step")
    assert [(s.attrs["data-step"], s.attrs["data-done"]) for s in steps] == [
        ("placed", "true"),
        ("shipped", "false"),
        ("delivered", "false"),
    ]
    _ship(order, shipper)
    page = client.get(f"/orders/{order.number}/")
    assert hook(page, "order-status").attrs["data-status"] == "shipped"
    steps = hooks(page, "timeline-step")
    assert [s.attrs["data-done"] for s in steps] == ["true", "true", "false"]
    assert "JD0123" in hook(page, "order-tracking").text


def test_a_digital_order_goes_straight_to_delivered(user, ebook):
    order = _placed(user, (ebook, 1))
    page = _client_for(user).get(f"/orders/{order.number}/")
    assert hook(page, "order-status").attrs["data-status"] == "delivered"
    steps = hooks(page, "timeline-step")
    assert [(s.attrs["data-step"], s.attrs["data-done"]) for s in steps] == [
        ("placed", "true"),
        ("delivered", "true"),
    ]


def test_the_order_page_query_count_does_not_grow(
    user, lamp, shipper, django_assert_max_num_queries
):
    order = _placed(user, (lamp, 1))
    client = _client_for(user)
    with django_assert_max_num_queries(ORDER_PAGE_QUERIES) as few:
        client.get(f"/orders/{order.number}/")
    big = order_make(
        user, *((ProductFactory(kind=Product.Kind.PHYSICAL), 1) for _ in range(6)), card=APPROVED
    )
    _ship(big, shipper)
    with django_assert_max_num_queries(ORDER_PAGE_QUERIES) as many:
        client.get(f"/orders/{big.number}/")
    assert len(few.captured_queries) == len(many.captured_queries)


def test_the_library_lists_digital_items_bought(user, lamp, ebook):
    _placed(user, (lamp, 1), (ebook, 1))
    with _committed():
        failed = order_make(user, (ebook, 2), card=CAPTURE_FAILS)
    failed.refresh_from_db()
    assert failed.status == "payment_failed"
    UserFactory()  # another shopper's library stays theirs
    page = _client_for(user).get("/orders/library/")
    assert page.status_code == 200
    assert "private" in page["Cache-Control"]
    items = hooks(page, "library-item")
    assert [item.text.split(" Bought")[0] for item in items] == ["Puzzle Book"]
    assert hooks(_client_for(UserFactory()).get("/orders/library/"), "library-empty")


def test_the_library_query_count_does_not_grow(user, django_assert_max_num_queries):
    client = _client_for(user)
    order_make(user, (ProductFactory(), 1), card=APPROVED)
    with django_assert_max_num_queries(LIBRARY_QUERIES) as few:
        client.get("/orders/library/")
    order_make(user, *((ProductFactory(), 1) for _ in range(6)), card=APPROVED)
    with django_assert_max_num_queries(LIBRARY_QUERIES) as many:
        assert len(hooks(client.get("/orders/library/"), "library-item")) == 7
    assert len(few.captured_queries) == len(many.captured_queries)


def test_the_library_needs_a_sign_in(client):
    response = client.get("/orders/library/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- e-mails ------------------------------------------------------------------------------


def _link(message, number):
    url = f"https://shop.example/orders/{number}/"
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert url in message.body
    assert f'href="{url}"' in html
    for text in (message.body, html):
        assert not re.search(r"\d{12,}", text.replace(" ", ""))  # no card number
        assert "4242" not in text
    return html


@override_settings(SITE_URL="https://shop.example")
def test_the_placed_shipped_and_refunded_emails(
    user, lamp, shipper, refunder, mailoutbox, django_capture_on_commit_callbacks
):
    order = _placed(user, (lamp, 1))  # its on-commit work runs
    (placed,) = mailoutbox
    assert placed.to == [user.email]
    html = _link(placed, order.number)
    assert "Shipping (Standard)" in placed.body
    assert "Shipping (Standard)" in html
    assert "1 Test Street" in placed.body

    with django_capture_on_commit_callbacks(execute=True):
        _ship(order, shipper)
    shipped = mailoutbox[1]
    assert "is on its way" in shipped.subject
    assert "JD0123" in _link(shipped, order.number)

    with django_capture_on_commit_callbacks(execute=True):
        order_refund(
            order_id=order.pk,
            from_balance=1000,
            from_card=0,
            card_to_balance=False,
            reason="internal: customer phoned",
            idempotency_key=new_key(),
            by=refunder,
        )
    refunded = mailoutbox[2]
    assert "refund" in refunded.subject.lower()
    html = _link(refunded, order.number)
    assert "$10.00" in refunded.body
    assert "$10.00" in html
    assert "customer phoned" not in refunded.body + html  # the staff reason is internal


def test_no_shipped_email_when_shipping_is_refused(
    user, lamp, shipper, mailoutbox, django_capture_on_commit_callbacks
):
    order = _placed(user, (lamp, 1))
    sent = len(mailoutbox)  # the confirmation
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(OrderTransitionRefused):
        order_deliver(order_id=order.pk, by=shipper)
    assert len(mailoutbox) == sent
