"""What staff see of payments in the admin: failed card payments and released holds are easy
to find, and a refused refund is an admin message, never a 500 (docs/interface.md §9)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from checkout.models import Order, Refund, VoidedAuthorization
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, fund, new_key, order_make, shop_state
from tests.wallet.pages import hook
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db

CAPTURE_FAILS = "4000000000000341"


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", prices={"US": 2999})


@pytest.fixture
def failed(user, lamp, django_capture_on_commit_callbacks):
    fund(user, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_make(user, (lamp, 1), card=CAPTURE_FAILS)
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    return order


@pytest.fixture
def paid(other_user, lamp, django_capture_on_commit_callbacks):
    fund(other_user, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        return order_make(other_user, (lamp, 1), card=APPROVED)


@pytest.fixture
def admin_client():
    admin = UserFactory(is_staff=True, is_superuser=True)
    return login_staff(Client(), admin), admin


def _refund_form(**fields):
    return {
        "idempotency_key": new_key(),
        "from_balance": "",
        "from_card": "",
        "reason": "x",
        "confirm": "Confirm",
        **fields,
    }


@pytest.mark.parametrize("query", ["status__exact=payment_failed", "payment__status__exact=failed"])
def test_failed_payments_are_found_by_a_list_filter(failed, paid, admin_client, query):
    client, _ = admin_client

    response = client.get(f"/admin/checkout/order/?{query}")

    assert response.status_code == 200
    html = response.content.decode()
    assert failed.number in html
    assert paid.number not in html
    assert "Payment failed" in html


def test_the_order_list_shows_the_card_payment_status(paid, admin_client):
    client, _ = admin_client

    html = client.get("/admin/checkout/order/").content.decode()

    assert "Captured" in html


def test_released_holds_are_listed_by_status(failed, admin_client):
    client, _ = admin_client
    record = VoidedAuthorization.objects.get()

    listing = client.get("/admin/checkout/voidedauthorization/?status__exact=voided")
    attention = client.get("/admin/checkout/voidedauthorization/?status__exact=void_failed")
    page = client.get(f"/admin/checkout/order/{failed.pk}/change/")

    assert record.reference in listing.content.decode()
    assert record.reference not in attention.content.decode()
    assert page.status_code == 200
    assert record.reference in page.content.decode()


def test_a_failed_order_offers_no_refund_and_refusing_is_a_message(failed, admin_client):
    client, _ = admin_client
    url = f"/admin/checkout/order/{failed.pk}/refund/"
    assert url not in client.get(f"/admin/checkout/order/{failed.pk}/change/").content.decode()
    before = shop_state()

    response = client.post(url, _refund_form(from_balance="10.00"))

    assert response.status_code == 200
    assert "Nothing was paid for this order" in hook(response, "form-error").text
    assert "refused" in response.content.decode()
    assert shop_state() == before


def test_refunding_ones_own_order_in_the_admin_is_a_message(lamp, admin_client):
    client, admin = admin_client
    fund(admin, 5000)
    own = order_make(admin, (lamp, 1))
    before = shop_state()

    response = client.post(
        f"/admin/checkout/order/{own.pk}/refund/", _refund_form(from_balance="29.99")
    )

    assert response.status_code == 200
    assert "cannot refund an order of your own" in hook(response, "form-error").text
    assert shop_state() == before
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.REFUSED, actor=admin, target=f"refund of order #{own.pk}"
    ).exists()


def test_a_replayed_refund_form_with_other_amounts_is_a_message(paid, admin_client):
    client, _ = admin_client
    url = f"/admin/checkout/order/{paid.pk}/refund/"
    form = _refund_form(from_balance="5.00")
    assert client.post(url, form).status_code == 302
    before = shop_state()

    response = client.post(url, {**form, "from_balance": "6.00"})

    assert response.status_code == 200
    assert "already used" in hook(response, "form-error").text
    assert shop_state() == before
    assert Refund.objects.get().from_balance == 500


def test_the_refund_list_finds_card_refunds_needing_attention(paid, admin_client):
    client, _ = admin_client

    response = client.get("/admin/checkout/refund/?card_status__exact=failed")

    assert response.status_code == 200


def test_refunders_need_the_view_permission_of_the_new_lists(paid):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    client = login_staff(Client(), staff)

    assert client.get("/admin/checkout/voidedauthorization/").status_code == 403


def test_the_order_page_and_lists_show_money_as_money(paid, admin_client):
    """$29.99 paid as $10.00 of balance and $19.99 by card reads as money on every checkout
    admin page: "2999" could be read as $2,999."""
    client, _ = admin_client
    pages = [
        f"/admin/checkout/order/{paid.pk}/change/",
        "/admin/checkout/order/",
        "/admin/checkout/payment/",
    ]

    for url in pages:
        html = client.get(url).content.decode()
        assert "$" in html, url
        assert ">2999<" not in html, url
        assert ">1999<" not in html, url
    order_page = client.get(pages[0]).content.decode()
    assert "$29.99" in order_page
    assert "$10.00" in order_page
    assert "$19.99" in order_page
