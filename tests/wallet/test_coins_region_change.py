"""Coins and a shopper's region change (docs/points.md): coins are worth a different amount in
each currency, so a shopper holding coins changes only to a region of the same currency; in
another they spend them first. Points do not hold the change back (valued at the new region's
rate when converted). Through the real services and the admin's region page.
"""

import datetime
import itertools
import threading
import time

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import accounts.services as account_services
from accounts.exceptions import RegionChangeRefused
from accounts.models import User
from accounts.services import user_region_change
from catalog.models import Region
from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import ledger_state
from wallet.models import Account, AuditEntry
from wallet.services import coins_credit, coins_spend, points_order_settle, points_release

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


@pytest.fixture
def staff():
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_user", "change_user"]
        )
    )
    return User.objects.get(pk=staff.pk)  # a fresh permission cache


def _coins(user, coins: int) -> None:
    coins_credit(user=user, coins=coins, idempotency_key=f"pack-{next(_keys)}", description="pack")


def _region(code: str) -> Region:
    return Region.objects.get(code=code)


def _snapshot(user):
    return (
        User.objects.get(pk=user.pk).region_id,
        ledger_state(),
        list(AuditEntry.objects.exclude(action=AuditEntry.Action.REFUSED).values()),
    )


def test_a_shopper_holding_coins_cannot_move_to_another_currency(staff):
    shopper = UserFactory(region_id="US")
    _coins(shopper, 1250)
    before = _snapshot(shopper)

    with pytest.raises(RegionChangeRefused) as refusal:
        user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert refusal.value.reasons == [
        "they hold 1,250 coins (worth $12.50 in the US store but ¥1,250 in the JP store): coins"
        " keep their value only within one currency, so they must be spent first"
    ]
    assert _snapshot(shopper) == before
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REFUSED)
    assert "region US → JP: they hold 1,250 coins" in entry.detail
    assert Account.objects.get(user=shopper, kind="customer_coins").balance == 1250


def test_one_coin_is_enough_to_refuse(staff):
    shopper = UserFactory(region_id="GB")
    _coins(shopper, 1)

    with pytest.raises(RegionChangeRefused) as refusal:
        user_region_change(user=shopper, region=_region("FR"), by=staff)

    assert refusal.value.reasons[0].startswith("they hold 1 coin (worth £0.01 in the GB store")


def test_coins_do_not_stop_a_change_within_one_currency(staff):
    """FR and DE both pay in EUR: a coin is worth the same in both."""
    shopper = UserFactory(region_id="FR")
    _coins(shopper, 500)

    user_region_change(user=shopper, region=_region("DE"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "DE"
    assert Account.objects.get(user=shopper, kind="customer_coins").balance == 500


def test_coins_spent_to_zero_let_the_shopper_move(staff):
    shopper = UserFactory(region_id="US")
    _coins(shopper, 500)
    coins_spend(user=shopper, coins=500, idempotency_key="spend-all", description="an app")

    user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "JP"


def test_points_do_not_stop_the_change(staff):
    """Pending and available points move with the shopper, in their own unit."""
    shopper = UserFactory(region_id="US")
    long_ago = timezone.now() - datetime.timedelta(days=30)
    for reference, delivered_at in (("order:CP-RC1", long_ago), ("order:CP-RC2", timezone.now())):
        points_order_settle(
            user=shopper,
            reference=reference,
            currency="USD",
            paid=70000,
            delivered_at=delivered_at,
        )
    points_release()

    user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert User.objects.get(pk=shopper.pk).region_id == "JP"
    balances = dict(Account.objects.filter(user=shopper).values_list("kind", "balance"))
    assert balances == {"customer_points": 700, "customer_points_pending": 700}


def test_the_coins_guard_runs_with_the_wallets_at_the_wallet_account_level():
    guards = {guard.check.__name__: guard.locks for guard in account_services._guards.values()}

    assert guards["coins_region_change_guard"] == "wallet_account"


def test_the_admin_region_page_says_why_and_changes_nothing(staff):
    shopper = UserFactory(region_id="US")
    _coins(shopper, 500)
    before = _snapshot(shopper)
    client = Client()
    client.force_login(staff)

    response = client.post(
        reverse("admin:accounts_user_region_change", args=[shopper.pk]), {"region": "GB"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "stays in United States (USD)" in page
    assert "they hold 500 coins (worth $5.00 in the US store but £5.00 in the GB store)" in page
    assert _snapshot(shopper) == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_coin_pack_credited_meanwhile_is_waited_for_and_seen(staff):
    """The guard locks the coins account: a coin pack being credited in another transaction
    when the change is asked for finishes first, and the change is refused for its coins."""
    assert connection.vendor == "postgresql"
    shopper = UserFactory(region_id="US")
    _coins(shopper, 1)
    coins_spend(user=shopper, coins=1, idempotency_key="to-zero", description="an app")
    holding, outcome = threading.Event(), {}

    def credit_slowly():
        try:
            with transaction.atomic():
                _coins(shopper, 500)  # the coins account stays locked until this commits
                holding.set()
                time.sleep(0.5)
        finally:
            holding.set()
            connection.close()

    def change():
        holding.wait(10)
        try:
            user_region_change(user=shopper, region=_region("JP"), by=staff)
            outcome["result"] = "moved"
        except RegionChangeRefused as refusal:
            outcome["result"] = refusal.reasons
        finally:
            connection.close()

    threads = [threading.Thread(target=credit_slowly), threading.Thread(target=change)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcome["result"][0].startswith("they hold 500 coins")
    assert User.objects.get(pk=shopper.pk).region_id == "US"


@pytest.mark.parametrize(
    ("kind", "amount", "reason"),
    [
        (
            "customer_coins",
            6_000,
            "a coins adjustment is waiting for approval: approve or reject it first",
        ),
        (
            "customer",
            60_000,
            "a balance adjustment in USD is waiting for approval: approve or reject it first",
        ),
    ],
)
def test_an_adjustment_waiting_for_approval_holds_the_change_back(staff, kind, amount, reason):
    """Approved after the move, it would land at the new currency's worth (coins) or in a
    currency no page shows (money): the change waits for the decision."""
    from tests.wallet.staff import ADJUSTERS, staff_user
    from wallet.services import wallet_account_get_or_create, wallet_adjust

    shopper = UserFactory(region_id="US")
    target = (
        {"user_id": shopper.pk, "kind": kind}
        if kind == "customer_coins"
        else {"account_id": wallet_account_get_or_create(user=shopper).pk}
    )
    asked = wallet_adjust(
        amount=amount,
        reason="goodwill",
        idempotency_key=f"admin-adjust:{'a' * 32}",
        by=staff_user(ADJUSTERS),
        **target,
    )
    assert asked.pending
    before = _snapshot(shopper)

    with pytest.raises(RegionChangeRefused) as refusal:
        user_region_change(user=shopper, region=_region("JP"), by=staff)

    assert refusal.value.reasons == [reason]
    assert _snapshot(shopper) == before
