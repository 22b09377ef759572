"""Staff and reward points and coins (issue 11, point 5): adjusting a shopper's points and coins
with the balances' two-person and no-self rules (thresholds in points and coins), the "Points
and coins outstanding" report (exact figures, flat query count), and the read-only admins of
points earned and points owed. Through the real services and the admin's pages.
"""

import datetime
import itertools
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.wallet.ledger_state import ledger_state
from tests.wallet.pages import hook, hooks
from tests.wallet.staff import ADJUSTERS, ADJUSTMENT_APPROVERS, ISSUERS, staff_user, superuser
from wallet.exceptions import InsufficientFunds, SelfAction, SelfApproval, WalletError
from wallet.models import Account, AuditEntry, BalanceAdjustment, PointsEarning, PointsShortfall
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    balance_adjustment_approve,
    coins_credit,
    coins_return,
    coins_spend,
    points_convert,
    points_order_settle,
    points_release,
    wallet_account_get_or_create,
    wallet_adjust,
)
from wallet.shop_balances import account_balance_get, shop_balances_get

pytestmark = pytest.mark.django_db

POINTS = Account.Kind.CUSTOMER_POINTS
COINS = Account.Kind.CUSTOMER_COINS
PENDING = Account.Kind.CUSTOMER_POINTS_PENDING
_keys = itertools.count(1)


@pytest.fixture
def adjuster(db):
    return staff_user(ADJUSTERS)


@pytest.fixture
def approver(db):
    return staff_user(ADJUSTMENT_APPROVERS)


def _client(user) -> Client:
    return login_staff(Client(), user)


def _key() -> str:
    return f"test-{next(_keys)}"


def _unit_url(user, unit: str) -> str:
    return reverse("admin:wallet_account_unit_adjust", args=[user.pk, unit])


def _change(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def _messages(response) -> list[str]:
    return [m.message for m in response.context["messages"]] if response.context else []


def _adjust_in_admin(client, url, *, direction="credit", amount="1250", confirm=True):
    """The adjust form filled in and (with `confirm`) confirmed, as staff do it."""
    page = client.get(url)
    assert page.status_code == 200
    (key,) = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode())
    data = {
        "idempotency_key": key,
        "direction": direction,
        "amount": amount,
        "reason": "goodwill",
        "description": "Points for your patience",
    }
    if confirm:
        data["confirm"] = "Confirm"
    return client.post(url, data)


def _adjust(by, shopper, kind, amount):
    return wallet_adjust(
        user_id=shopper.pk,
        kind=kind,
        amount=amount,
        reason="goodwill",
        idempotency_key=_key(),
        by=by,
    )


def _balance(user, kind) -> int:
    return account_balance_get(account=Account.objects.get(user=user, kind=kind))


def _written() -> tuple:
    """Everything an adjustment could write besides its refusal record."""
    return (
        ledger_state(),
        list(BalanceAdjustment.objects.values_list("pk", "status", "approved_by")),
        list(AuditEntry.objects.exclude(action=AuditEntry.Action.REFUSED).values_list("pk")),
    )


def _refusals() -> list[tuple]:
    return list(
        AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED)
        .order_by("pk")
        .values_list("actor_id", "detail")
    )


def _earn(user, points: int, *, days_ago: int = 0, reference: str | None = None):
    """`points` earned on a made-up order delivered `days_ago` (1 point per 1.00 / ¥100)."""
    return points_order_settle(
        user=user,
        reference=reference or f"order:CP-{_key()}",
        currency=user.region.currency,
        paid=points * 100,
        delivered_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def _coins(user, coins: int) -> None:
    coins_credit(user=user, coins=coins, idempotency_key=_key(), description="coin pack")


# --- adjusting points and coins ----------------------------------------------------------------


def test_an_adjuster_credits_points_and_coins_alone_under_the_threshold(adjuster):
    shopper = UserFactory(region_id="US")
    money = wallet_account_get_or_create(user=shopper)
    client = _client(adjuster)
    change_page = client.get(_change(money))
    assert hook(change_page, "adjust-points").attrs["href"] == _unit_url(shopper, "points")
    assert hook(change_page, "adjust-coins").attrs["href"] == _unit_url(shopper, "coins")

    form = client.get(_unit_url(shopper, "points"))
    assert hook(form, "admin-balance").text == "0 points"
    assert "Up to 5,000 points" in form.content.decode()
    assert not Account.objects.filter(user=shopper, kind=POINTS).exists()  # a look writes nothing
    confirm = _adjust_in_admin(client, _unit_url(shopper, "points"), confirm=False)
    assert hook(confirm, "adjust-confirm-text").text == (
        f"Credit 1,250 points to {shopper.email}'s points?"
    )
    assert hook(confirm, "adjust-confirm-balance").text == "0 points now, 1,250 points after"

    done = _adjust_in_admin(client, _unit_url(shopper, "points"))
    points = Account.objects.get(user=shopper, kind=POINTS)
    assert done["Location"] == _change(points)
    assert _messages(client.get(done["Location"])) == [
        f"Credit of 1,250 points to {shopper.email}'s points: posted. The balance is now "
        "1,250 points."
    ]
    coins_done = _adjust_in_admin(client, _unit_url(shopper, "coins"), amount="500")
    coins = Account.objects.get(user=shopper, kind=COINS)
    assert coins_done["Location"] == _change(coins)
    assert _messages(client.get(coins_done["Location"])) == [
        f"Credit of 500 coins to {shopper.email}'s coins: posted. The balance is now 500 coins."
    ]
    assert (points.currency, points.balance, coins.currency, coins.balance) == (
        "PTS",
        1250,
        "CNS",
        500,
    )
    assert shop_balances_get(kinds=["adjustments"]) == {
        ("adjustments", "PTS"): -1250,
        ("adjustments", "CNS"): -500,
    }
    assert list(
        BalanceAdjustment.objects.order_by("pk").values_list("currency", "amount", "status")
    ) == [("PTS", 1250, "applied"), ("CNS", 500, "applied")]
    details = AuditEntry.objects.filter(action="balance_adjusted").order_by("pk")
    assert [entry.detail for entry in details] == [
        "1,250 points credited: goodwill",
        "500 coins credited: goodwill",
    ]
    # Points and coins read as words on every admin page, never as money.
    account_page = client.get(_change(points)).content.decode()
    assert "1,250 points" in account_page
    assert "$12.50" not in account_page
    postings = client.get(
        reverse("admin:wallet_posting_changelist") + f"?account__id__exact={points.pk}"
    ).content.decode()
    assert "+1,250 points" in postings
    adjustments = client.get(reverse("admin:wallet_balanceadjustment_changelist"))
    assert "+1,250 points" in adjustments.content.decode()
    assert "+500 coins" in adjustments.content.decode()
    # The points account's own page adjusts it again, by its id.
    own_link = hook(client.get(_change(points)), "adjust-points").attrs["href"]
    assert own_link == reverse("admin:wallet_account_adjust", args=[points.pk])
    _adjust_in_admin(client, own_link, direction="debit", amount="250")
    assert _balance(shopper, POINTS) == 1000
    assert ledger_reconcile().clean


def test_above_the_threshold_a_second_staff_member_approves(adjuster, approver):
    shopper = UserFactory(region_id="JP")
    alone = _adjust(adjuster, shopper, POINTS, 4000)
    # Money adjusted alone does not count against points, nor points against coins.
    money = wallet_account_get_or_create(user=shopper)
    wallet_adjust(
        account_id=money.pk, amount=50000, reason="x", idempotency_key=_key(), by=adjuster
    )
    _adjust(adjuster, shopper, COINS, 5000)

    waiting = _adjust(adjuster, shopper, POINTS, 1001)  # 4,000 + 1,001 > 5,000 in 24 hours
    coins_waiting = _adjust(adjuster, shopper, COINS, -1)  # 5,000 + 1: a debit counts too

    assert alone.adjustment.status == "applied"
    assert waiting.pending
    assert coins_waiting.pending
    assert _balance(shopper, POINTS) == 4000
    assert _balance(shopper, COINS) == 5000
    requested = AuditEntry.objects.get(
        action="adjustment_requested", target=f"adjustment #{waiting.adjustment.pk}"
    )
    assert requested.detail.endswith("waits for approval: 1,001 points credited: goodwill")

    client = _client(approver)
    index = client.get(reverse("admin:index"))
    assert hook(index, "waiting-for-me-balanceadjustment").attrs["data-count"] == "2"
    page = client.get(_change(waiting.adjustment))
    assert "Approve and apply +1,001 points" in page.content.decode()
    response = client.post(
        reverse("admin:wallet_adjustment_approve", args=[waiting.adjustment.pk]), follow=True
    )

    assert "Adjustment approved and applied. The balance is now 5,001 points." in _messages(
        response
    )
    waiting.adjustment.refresh_from_db()
    assert (waiting.adjustment.status, waiting.adjustment.approved_by) == ("applied", approver)
    assert _balance(shopper, POINTS) == 5001
    balance_adjustment_approve(adjustment_id=coins_waiting.adjustment.pk, approved_by=approver)
    assert _balance(shopper, COINS) == 4999
    assert ledger_reconcile().clean


def test_nobody_approves_their_own_points_request():
    both = staff_user(ADJUSTERS, ADJUSTMENT_APPROVERS)
    shopper = UserFactory()
    pending = _adjust(both, shopper, COINS, 6000).adjustment
    before = _written()

    with pytest.raises(SelfApproval):
        balance_adjustment_approve(adjustment_id=pending.pk, approved_by=both)

    assert _written() == before
    assert _refusals()[-1] == (
        both.pk,
        "approving an adjustment: you asked for this adjustment: another staff member approves",
    )


def test_nobody_adjusts_their_own_points_or_coins(adjuster, approver):
    before = _written()
    client = _client(adjuster)

    refused = _adjust_in_admin(client, _unit_url(adjuster, "points"))
    with pytest.raises(SelfAction):
        _adjust(adjuster, adjuster, COINS, 10)

    assert refused.status_code == 200
    assert hook(refused, "adjust-own-account")
    assert "Refused: you cannot adjust your own balance" in hook(refused, "form-error").text
    assert _written() == before  # not even an empty points account
    assert not Account.objects.filter(user=adjuster).exists()
    assert [detail for _, detail in _refusals()] == [
        "balance adjustment: you cannot adjust your own balance: ask another staff member"
    ] * 2
    # Nor approves a request for their own points made by a colleague.
    pending = _adjust(adjuster, approver, POINTS, 6000).adjustment
    with pytest.raises(SelfAction):
        balance_adjustment_approve(adjustment_id=pending.pk, approved_by=approver)
    assert not Account.objects.get(user=approver, kind=POINTS).balance


def test_a_debit_larger_than_the_points_is_refused_and_nothing_is_written(adjuster):
    shopper = UserFactory()
    _adjust(adjuster, shopper, POINTS, 100)
    points = Account.objects.get(user=shopper, kind=POINTS)
    before = _written()

    refused = _adjust_in_admin(
        _client(adjuster),
        reverse("admin:wallet_account_adjust", args=[points.pk]),
        direction="debit",
        amount="101",
    )
    with pytest.raises(InsufficientFunds):
        _adjust(adjuster, shopper, COINS, -1)

    assert refused.status_code == 200
    assert hook(refused, "form-error").text == "Refused: the balance is not enough"
    assert _written() == before
    assert _balance(shopper, POINTS) == 100


def test_pending_points_are_not_adjustable(adjuster):
    shopper = UserFactory()
    _earn(shopper, 700)
    pending = Account.objects.get(user=shopper, kind=PENDING)
    before = _written()

    with pytest.raises(WalletError, match="pending points cannot be adjusted"):
        wallet_adjust(
            account_id=pending.pk, amount=-700, reason="x", idempotency_key="p", by=adjuster
        )
    with pytest.raises(WalletError, match="pending points cannot be adjusted"):
        _adjust(adjuster, shopper, PENDING, 5)
    client = _client(adjuster)
    assert client.get(reverse("admin:wallet_account_adjust", args=[pending.pk])).status_code == 404
    assert client.get(_unit_url(shopper, "points_pending")).status_code == 404

    assert _written() == before
    assert pending.balance == _balance(shopper, PENDING) == 700


@pytest.mark.parametrize(
    "amount", ["12.5", "-5", "1,000", "abc", "", "0", "\uff11\uff10\uff10", "9" * 20]
)
def test_a_bad_amount_of_points_is_a_form_error_and_writes_nothing(adjuster, amount):
    shopper = UserFactory()
    before = _written()

    response = _adjust_in_admin(_client(adjuster), _unit_url(shopper, "points"), amount=amount)

    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert _written() == before


def test_the_points_form_turns_away_bad_addresses_and_staff_without_the_permission(adjuster):
    shopper = UserFactory()
    client = _client(adjuster)
    assert client.get(_unit_url(shopper, "credit")).status_code == 404
    assert (
        client.get(f"/admin/wallet/account/user/{shopper.pk + 999}/points/adjust/").status_code
        == 404
    )
    malformed = client.get("/admin/wallet/account/user/abc/points/adjust/", follow=True)
    assert malformed.status_code == 404

    issuer = _client(staff_user(ISSUERS))
    assert issuer.get(_unit_url(shopper, "points")).status_code == 403
    data = {"direction": "credit", "amount": "5", "reason": "x", "idempotency_key": "k"}
    assert issuer.post(_unit_url(shopper, "points"), {**data, "confirm": "1"}).status_code == 403
    assert not Account.objects.filter(user=shopper).exists()


# --- the report: points and coins outstanding ----------------------------------------------------

REPORT = "admin:wallet_account_units_outstanding"


def _world(adjuster) -> None:
    """Shoppers in three currencies with points earned, pending, converted, owed after a refund,
    and coins bought, spent, returned and adjusted."""
    ann = UserFactory(region_id="US")  # 700 released, 500 converted, 300 pending
    _earn(ann, 700, days_ago=30)
    _earn(ann, 300)
    points_release()
    points_convert(user=ann, points=500, idempotency_key=_key())
    ben = UserFactory(region_id="JP")  # 1,200 released, 1,000 converted, then all refunded
    earning = _earn(ben, 1200, days_ago=30)
    points_release()
    points_convert(user=ben, points=1000, idempotency_key=_key())
    points_order_settle(user=ben, reference=earning.reference, currency="JPY", paid=0)
    cat = UserFactory(region_id="GB")  # coins: 2,500 bought, 500 spent, 100 returned, +50
    _coins(cat, 2500)
    coins_spend(user=cat, coins=500, idempotency_key=_key(), description="an app")
    coins_return(user=cat, coins=100, idempotency_key=_key(), description="refund")
    _adjust(adjuster, cat, COINS, 50)
    dan = UserFactory(region_id="US")  # 1,000 coins bought, 250 points given by staff
    _coins(dan, 1000)
    _adjust(adjuster, dan, POINTS, 250)


def test_the_report_figures_are_exact(adjuster):
    _world(adjuster)

    response = _client(adjuster).get(reverse(REPORT))

    assert response.status_code == 200
    figures = {
        key: int(row.attrs["data-value"])
        for key in (
            "points-available",
            "points-pending",
            "points-owed",
            "points-earned",
            "points-converted",
            "points-adjusted",
            "coins-outstanding",
            "coins-sold",
            "coins-spent",
            "coins-adjusted",
        )
        for row in hooks(response, key)
    }
    assert figures == {
        "points-available": 200 + 250,
        "points-pending": 300,
        "points-owed": 1000,
        "points-earned": 700 + 300 + 1200 - 200,  # ben's refund took back the 200 he had
        "points-converted": 500 + 1000,
        "points-adjusted": 250,
        "coins-outstanding": 2150 + 1000,
        "coins-sold": 3500,
        "coins-spent": 400,
        "coins-adjusted": 50,
    }
    # The ledger's identities hold on the page's figures.
    assert figures["points-earned"] + figures["points-adjusted"] == (
        figures["points-available"] + figures["points-pending"] + figures["points-converted"]
    )
    assert figures["coins-sold"] + figures["coins-adjusted"] == (
        figures["coins-outstanding"] + figures["coins-spent"]
    )
    assert hook(response, "points-available").text == "Available to shoppers 450 points"
    assert hook(response, "coins-outstanding").text == "Held by shoppers (outstanding) 3,150 coins"
    rows = {row.attrs["data-currency"]: row for row in hooks(response, "liability-row")}
    assert {currency: row.attrs["data-liability-minor"] for currency, row in rows.items()} == {
        "EUR": "0",
        "GBP": "2150",  # 2,150 coins at 1p
        "JPY": "0",  # ben owes points, holds none
        "USD": str(450 + 1000),  # 450 points at 1¢ to convert, 1,000 coins at 1¢
    }
    assert rows["USD"].text == (
        "USD 450 points $4.50 300 points $3.00 0 points 1,000 coins $10.00 $14.50 $5.00"
    )
    assert rows["JPY"].text == "JPY 0 points ¥0 0 points ¥0 1,000 points 0 coins ¥0 ¥0 ¥1,000"
    assert (
        rows["GBP"].text
        == "GBP 0 points £0.00 0 points £0.00 0 points 2,150 coins £21.50 £21.50 £0.00"
    )


def _report_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(REPORT)).status_code == 200
    return len(queries)


def test_the_reports_query_count_is_flat(adjuster):
    client = _client(adjuster)
    _world(adjuster)
    few = _report_queries(client)

    for region in ("US", "GB", "JP", "FR", "DE") * 2:
        _world(adjuster) if region == "US" else _coins(UserFactory(region_id=region), 10)
        _earn(UserFactory(region_id=region), 100)

    assert _report_queries(client) == few


def test_the_report_is_for_staff_who_may_view_the_ledger(adjuster):
    url = reverse(REPORT)
    changelist = _client(adjuster).get(reverse("admin:wallet_account_changelist"))
    assert hook(changelist, "units-outstanding-link").attrs["href"] == url
    assert _client(staff_user(ISSUERS)).get(url).status_code == 403
    shopper = UserFactory()
    signed_in = Client()
    signed_in.force_login(shopper)
    assert signed_in.get(url).status_code == 302
    assert Client().get(url).status_code == 302


# --- points earned and owed, read-only ---------------------------------------------------------


def test_points_earned_and_owed_are_read_only_and_searchable(adjuster):
    boss = superuser()
    ann = UserFactory(region_id="US", email="ann@example.com")
    released = _earn(ann, 700, days_ago=30, reference="order:CP-ANN00001")
    points_release()
    pending = _earn(UserFactory(email="bob@example.com"), 300, reference="order:CP-BOB00001")
    points_convert(user=ann, points=500, idempotency_key="ann-convert")
    points_order_settle(user=ann, reference=released.reference, currency="USD", paid=0)
    shortfall = PointsShortfall.objects.get()
    client = _client(boss)
    earnings = reverse("admin:wallet_pointsearning_changelist")

    def listed(query: str) -> set[int]:
        response = client.get(earnings + query)
        assert response.status_code == 200
        return {row.pk for row in response.context["cl"].result_list}

    assert listed("") == {released.pk, pending.pk}
    assert listed("?q=ann@example.com") == {released.pk}
    assert listed("?q=order:CP-BOB00001") == {pending.pk}
    assert listed("?released=no") == {pending.pk}
    assert listed("?released=yes") == {released.pk}
    page = client.get(_change(pending)).content.decode()
    assert "300 points" in page
    assert "Pending" in page
    assert client.get(reverse("admin:wallet_pointsearning_add")).status_code == 403
    assert client.get("/admin/wallet/pointsearning/abc/change/").status_code == 404

    owed = reverse("admin:wallet_pointsshortfall_changelist")
    response = client.get(owed + "?owed=yes&q=ann@example.com")
    assert [row.pk for row in response.context["cl"].result_list] == [shortfall.pk]
    assert "500 points" in response.content.decode()  # 700 taken back, 200 of them still held
    assert not client.get(owed + "?owed=no").context["cl"].result_list
    assert client.get(_change(shortfall)).status_code == 200
    before = PointsEarning.objects.count(), PointsShortfall.objects.count()
    client.post(_change(pending), {"points": "9999"})
    assert (PointsEarning.objects.count(), PointsShortfall.objects.count()) == before
    assert PointsEarning.objects.get(pk=pending.pk).points == 300


def _owe(shopper) -> None:
    """An earning released, converted and refunded: points owed."""
    earning = _earn(shopper, 600, days_ago=30)
    points_release()
    points_convert(user=shopper, points=500, idempotency_key=_key())
    points_order_settle(user=shopper, reference=earning.reference, currency="USD", paid=0)


@pytest.mark.parametrize("model", [PointsEarning, PointsShortfall], ids=["earning", "shortfall"])
def test_the_points_lists_make_the_same_queries_however_many_rows(model):
    client = _client(superuser())
    url = reverse(f"admin:wallet_{model._meta.model_name}_changelist")
    _owe(UserFactory(region_id="US"))

    def measure(rows: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert len(response.context["cl"].result_list) == rows
        return len(queries)

    few = measure(1)
    for _ in range(10):
        _owe(UserFactory(region_id="US"))

    assert measure(11) == few


def test_the_points_and_coins_thresholds_come_from_their_setting(adjuster, settings):
    shopper = UserFactory()
    settings.POINTS_COINS_ADJUSTMENT_APPROVAL_MAX = {"PTS": "100", "CNS": "1.5"}

    assert not _adjust(adjuster, shopper, POINTS, 100).pending
    assert _adjust(adjuster, shopper, POINTS, 1).pending
    before = _written()
    with pytest.raises(WalletError, match="for CNS is not a whole number"):
        _adjust(adjuster, shopper, COINS, 1)
    settings.POINTS_COINS_ADJUSTMENT_APPROVAL_MAX = {"PTS": "100"}
    with pytest.raises(WalletError, match="no POINTS_COINS_ADJUSTMENT_APPROVAL_MAX is set for CNS"):
        _adjust(adjuster, shopper, COINS, 1)
    assert _written() == before
    page = _client(adjuster).get(_unit_url(shopper, "coins"))
    assert "Up to CNS: not set" in page.content.decode()
