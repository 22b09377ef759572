"""`user_region_change` and the admin page that uses it (issue 7, point 7): a shopper's region
changes only while nothing they hold would be stranded in the old one (a balance in its
currency, a cart, an open order), and every change or refused attempt is audited.

Staff in these tests hold only the accounts permissions: they move no value, so the admin's
two-factor gate for value-moving staff does not apply to them.
"""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

import accounts.services as services
from accounts.exceptions import RegionChangeRefused
from accounts.models import User
from accounts.services import (
    LOCK_ORDER,
    region_change_guard_register,
    user_region_change,
)
from catalog.models import Region
from checkout.models import CartLine, Order
from checkout.services import cart_add, order_place, order_refund
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from wallet.models import AuditEntry
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_redeem, wallet_debit

pytestmark = pytest.mark.django_db

APPROVED_CARD = "4242424242424242"


def _staff(*codenames: str, **kwargs) -> User:
    staff = UserFactory(is_staff=True, **kwargs)
    staff.user_permissions.add(
        *(Permission.objects.get(content_type__app_label="accounts", codename=c) for c in codenames)
    )
    return User.objects.get(pk=staff.pk)  # a fresh permission cache


@pytest.fixture
def staff():
    return _staff("view_user", "change_user")


@pytest.fixture
def lamp():
    return ProductFactory(name="Desk Lamp", prices={"US": 2999, "JP": 4500, "GB": 2399})


def _region(code: str) -> Region:
    return Region.objects.get(code=code)


def _fund(user, amount: int) -> None:
    giftcard_redeem(user=user, code=issue_card(region=user.region_id, amount=amount).code)


def _snapshot(user):
    """Everything a region change could write: the user's region, the ledger, the audit log
    apart from refusals (which are the one thing a refusal writes), carts and orders."""
    return (
        User.objects.get(pk=user.pk).region_id,
        ledger_state(),
        list(AuditEntry.objects.exclude(action=AuditEntry.Action.REFUSED).values()),
        list(CartLine.objects.values()),
        list(Order.objects.values()),
    )


def _refused(user, region: str, by) -> RegionChangeRefused:
    before = _snapshot(user)
    with pytest.raises(RegionChangeRefused) as refusal:
        user_region_change(user=user, region=_region(region), by=by)
    assert _snapshot(user) == before
    return refusal.value


# --- the service: allowed ----------------------------------------------------------------------


def test_a_shopper_holding_nothing_moves_and_the_change_is_audited(staff):
    shopper = UserFactory(region_id="US")

    result = user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert result.region_id == shopper.region_id == "JP"
    assert User.objects.get(pk=shopper.pk).region_id == "JP"
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.detail) == (
        staff,
        AuditEntry.Action.REGION_CHANGED,
        "region US → JP",
    )
    assert entry.target == f"user #{shopper.pk} ({shopper.email})"


def test_a_balance_spent_to_zero_does_not_stop_the_change(staff):
    shopper = UserFactory(region_id="US")
    _fund(shopper, 2500)
    wallet_debit(user=shopper, amount=2500, idempotency_key="spend-all", description="spent")

    user_region_change(user=shopper, region=_region("GB"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "GB"


def test_a_balance_does_not_stop_a_change_within_one_currency(staff):
    """FR and DE both pay in EUR: the balance stays on show, nothing is stranded."""
    shopper = UserFactory(region_id="FR")
    _fund(shopper, 2500)

    user_region_change(user=shopper, region=_region("DE"), by=staff)

    shopper.refresh_from_db()
    assert shopper.region_id == "DE"
    assert wallet_balance_get(user=shopper).amount == 2500


def test_a_shopper_may_change_their_own_region(lamp):
    shopper = UserFactory(region_id="US")

    user_region_change(user=shopper, region=_region("JP"), by=shopper)

    assert User.objects.get(pk=shopper.pk).region_id == "JP"
    assert AuditEntry.objects.get().actor == shopper


def test_the_same_region_is_a_no_op(staff):
    shopper = UserFactory(region_id="US")
    _fund(shopper, 100)  # would refuse a real change

    user_region_change(user=shopper, region=_region("US"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "US"
    assert not AuditEntry.objects.exists()


def test_a_refunded_order_is_closed(staff, lamp, django_capture_on_commit_callbacks):
    shopper = UserFactory(region_id="US")
    refunder = UserFactory(is_staff=True)
    refunder.user_permissions.add(Permission.objects.get(codename="refund_order"))
    cart_add(user=shopper, session={}, slug=lamp.slug, quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(
            user=shopper,
            session={"checkout_use_balance": False},
            idempotency_key=uuid.uuid4().hex,
            card_number=APPROVED_CARD,
        )
    with django_capture_on_commit_callbacks(execute=True):
        order_refund(
            order_id=order.pk,
            from_balance=0,
            from_card=order.card_charged,
            card_to_balance=False,
            reason="changed their mind",
            idempotency_key=uuid.uuid4().hex,
            by=User.objects.get(pk=refunder.pk),
        )
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED

    user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "JP"


# --- the service: refused, nothing written but the refusal's audit entry -----------------------


def test_a_balance_in_the_old_currency_is_refused(staff):
    shopper = UserFactory(region_id="US")
    _fund(shopper, 2500)

    refusal = _refused(shopper, "JP", staff)

    assert refusal.reasons == [
        "they hold 25.00 USD (customer balance), which the JP store would not show; it must be "
        "spent or adjusted to zero first"
    ]
    assert shopper.region_id == "US"
    assert wallet_balance_get(user=User.objects.get(pk=shopper.pk)).amount == 2500
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (staff, AuditEntry.Action.REFUSED)
    assert entry.detail.startswith("region US → JP: they hold 25.00 USD")


def test_a_jpy_balance_is_named_in_yen(staff):
    shopper = UserFactory(region_id="JP")
    _fund(shopper, 3000)

    refusal = _refused(shopper, "US", staff)

    assert refusal.reasons[0].startswith("they hold 3000 JPY")


def test_a_cart_is_refused_even_within_one_currency(staff, lamp):
    lamp.prices.create(region_id="FR", amount=2799)
    shopper = UserFactory(region_id="FR")
    cart_add(user=shopper, session={}, slug=lamp.slug, quantity=2)

    refusal = _refused(shopper, "DE", staff)

    assert refusal.reasons == ["their cart holds 1 item(s) priced in the FR store"]
    assert CartLine.objects.filter(cart__user=shopper).count() == 1


def test_an_empty_saved_cart_does_not_stop_the_change(staff, lamp):
    shopper = UserFactory(region_id="US")
    cart_add(user=shopper, session={}, slug=lamp.slug, quantity=1)
    CartLine.objects.filter(cart__user=shopper).delete()

    user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "JP"


def test_an_open_order_is_refused_and_every_reason_is_given(staff, lamp):
    shopper = UserFactory(region_id="US")
    _fund(shopper, 5000)
    cart_add(user=shopper, session={}, slug=lamp.slug, quantity=1)
    order = order_place(user=shopper, session={}, idempotency_key=uuid.uuid4().hex)
    cart_add(user=shopper, session={}, slug=lamp.slug, quantity=1)

    refusal = _refused(shopper, "GB", staff)

    assert refusal.reasons == [
        "their cart holds 1 item(s) priced in the US store",
        f"their order(s) {order.number} in USD are still open",
        "they hold 20.01 USD (customer balance), which the GB store would not show; it must be "
        "spent or adjusted to zero first",
    ]
    assert str(refusal).count(";") >= 2


def test_staff_without_the_permission_are_refused_and_nothing_is_written():
    viewer = _staff("view_user")
    shopper = UserFactory(region_id="US")
    before = _snapshot(shopper)

    with pytest.raises(RegionChangeRefused, match=r"accounts\.change_user"):
        user_region_change(user=shopper, region=_region("JP"), by=viewer)

    assert _snapshot(shopper) == before
    assert not AuditEntry.objects.exists()


def test_an_inactive_actor_is_refused(staff):
    shopper = UserFactory(region_id="US")
    staff.is_active = False

    with pytest.raises(RegionChangeRefused):
        user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "US"


# --- the guards: registered by the apps, run in the global lock order -------------------------


def test_the_apps_register_their_guards_in_lock_order():
    names = [guard.check.__name__ for guard in services._guards_in_lock_order()]

    assert names == [
        "checkout_region_change_guard",
        "subscriptions_region_change_guard",
        "wallet_region_change_guard",
        "coins_region_change_guard",
    ]
    assert [recorder.__name__ for recorder in services._recorders.values()] == [
        "wallet_region_change_audit"
    ]


def test_a_new_holding_is_one_guard_in_its_own_app(staff, monkeypatch):
    """How points (a later issue) join in: a guard from their app, nothing changed here."""
    monkeypatch.setattr(services, "_guards", dict(services._guards))
    seen = []

    def points_guard(change):
        seen.append((change.user.pk, change.old_region.code, change.new_region.code))
        return ["they hold 700 points"]

    region_change_guard_register(points_guard, locks="wallet_account")
    region_change_guard_register(points_guard, locks="wallet_account")  # idempotent
    shopper = UserFactory(region_id="US")

    refusal = _refused(shopper, "JP", staff)

    assert refusal.reasons == ["they hold 700 points"]
    assert seen == [(shopper.pk, "US", "JP")]


def test_a_guard_must_name_a_known_lock_level():
    with pytest.raises(ValueError, match="LOCK_ORDER"):
        region_change_guard_register(lambda change: [], locks="somewhere")
    assert "wallet_account" in LOCK_ORDER


# --- the admin ---------------------------------------------------------------------------------


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _page(user) -> str:
    return reverse("admin:accounts_user_region_change", args=[user.pk])


def test_the_change_form_shows_the_region_read_only_with_a_link(staff):
    shopper = UserFactory(region_id="US")

    response = _client(staff).get(reverse("admin:accounts_user_change", args=[shopper.pk]))

    assert response.status_code == 200
    assert "region" not in response.context["adminform"].form.fields
    assert f'href="{_page(shopper)}"' in response.content.decode()


def test_posting_a_region_to_the_change_form_does_not_change_it(staff):
    shopper = UserFactory(region_id="US", first_name="Ann")
    client = _client(staff)
    url = reverse("admin:accounts_user_change", args=[shopper.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("groups", "user_permissions", "password")
    }
    data.update(
        {
            "email": shopper.email,
            "first_name": "Anne",
            "region": "JP",
            "date_joined_0": shopper.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": shopper.date_joined.strftime("%H:%M:%S"),
            "is_active": "on",
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    shopper.refresh_from_db()
    assert (shopper.first_name, shopper.region_id) == ("Anne", "US")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REGION_CHANGED).exists()


def test_the_region_page_offers_the_other_regions(staff):
    shopper = UserFactory(region_id="US")

    response = _client(staff).get(_page(shopper))

    assert response.status_code == 200
    choices = [value for value, _ in response.context["form"].fields["region"].choices]
    assert sorted(str(value) for value in choices) == ["DE", "FR", "GB", "JP"]
    assert 'data-testid="current-region" data-region="US"' in response.content.decode()


def test_the_region_page_changes_the_region_through_the_service(staff):
    shopper = UserFactory(region_id="US")

    response = _client(staff).post(_page(shopper), {"region": "JP"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse(
        "admin:accounts_user_change", args=[shopper.pk]
    )
    assert User.objects.get(pk=shopper.pk).region_id == "JP"
    assert AuditEntry.objects.get().action == AuditEntry.Action.REGION_CHANGED
    assert "moved from United States (USD) to Japan (JPY)" in response.content.decode()


def test_a_refusal_is_a_message_on_the_page_and_changes_nothing(staff):
    shopper = UserFactory(region_id="US")
    _fund(shopper, 2500)
    before = _snapshot(shopper)

    response = _client(staff).post(_page(shopper), {"region": "JP"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "stays in United States (USD)" in page
    assert "they hold 25.00 USD" in page
    assert _snapshot(shopper) == before
    assert AuditEntry.objects.get().action == AuditEntry.Action.REFUSED


@pytest.mark.parametrize("region", ["US", "XX", ""])
def test_a_bad_choice_is_a_form_error_and_writes_nothing(staff, region):
    shopper = UserFactory(region_id="US")
    before = _snapshot(shopper)

    response = _client(staff).post(_page(shopper), {"region": region})

    assert response.status_code == 200
    assert response.context["form"].errors["region"]
    assert _snapshot(shopper) == before
    assert not AuditEntry.objects.exists()


def test_staff_who_may_only_view_users_get_403():
    shopper = UserFactory(region_id="US")
    client = _client(_staff("view_user"))

    assert client.get(_page(shopper)).status_code == 403
    assert client.post(_page(shopper), {"region": "JP"}).status_code == 403
    assert User.objects.get(pk=shopper.pk).region_id == "US"


def test_a_shopper_and_a_visitor_are_sent_to_sign_in():
    shopper = UserFactory(region_id="US")

    for client in (Client(), _client(UserFactory())):
        response = client.post(_page(shopper), {"region": "JP"})
        assert response.status_code == 302
        assert "login" in response["Location"]
    assert User.objects.get(pk=shopper.pk).region_id == "US"


@pytest.mark.parametrize("object_id", ["999999", "abc", "%00"])
def test_an_unknown_or_malformed_user_is_404(staff, object_id):
    url = reverse("admin:accounts_user_region_change", args=["0"]).replace("/0/", f"/{object_id}/")

    assert _client(staff).get(url).status_code == 404


def test_the_region_page_needs_the_csrf_token(staff):
    shopper = UserFactory(region_id="US")

    response = _client(staff, enforce_csrf_checks=True).post(_page(shopper), {"region": "JP"})

    assert response.status_code == 403
    assert User.objects.get(pk=shopper.pk).region_id == "US"
