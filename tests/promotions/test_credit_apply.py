"""A promotional-credit code from the code box: promotion_credit_apply (docs/interface.md §11).

State is built through the real services; every refusal asserts nothing was written. The
race runs on PostgreSQL with real threads (see tests/wallet/test_races.py)."""

import datetime

import pytest
from django.core import mail
from django.db import connection

from catalog.models import Region
from catalog.regions import region_today
from promotions.exceptions import PromotionRefused
from promotions.models import Promotion, PromotionAmount, PromotionCode, PromotionRedemption
from promotions.selectors import entered_codes_lookup, promotion_specs_get, shopper_input_get
from promotions.services import promotion_credit_apply
from tests.accounts.factories import UserFactory
from tests.promotions.factories import promotion_with_code, unique_code_promotion
from tests.wallet.credit_factories import credit_state
from tests.wallet.test_races import THREADS, run_together
from wallet.models import CreditLot, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get


def credit10(**fields):
    fields.setdefault("per_shopper_limit", 1)
    fields.setdefault("credit_days", 30)
    amounts = fields.pop("amounts", {"USD": {"amount_off": 1000}, "JPY": {"amount_off": 1500}})
    return promotion_with_code(
        "CREDIT10", kind=Promotion.Kind.CREDIT, percent=None, amounts=amounts, **fields
    )


def apply(user, code="CREDIT10", *, has_orders=False):
    region = Region.objects.get(code=user.region_id)
    entered = entered_codes_lookup(codes=[code])[0]
    specs = promotion_specs_get(
        region=region, currency=region.currency, promotion_ids=[entered.promotion_id or 0]
    )
    spec = next(s for s in specs if s.id == entered.promotion_id) if entered.promotion_id else None
    if spec is None:  # an unknown code: what checkout has in hand is the entered code only
        spec = specs[0] if specs else None
    shopper = shopper_input_get(
        user=user, has_orders=has_orders, promotion_ids=[entered.promotion_id or 0]
    )
    return promotion_credit_apply(user=user, entered=entered, spec=spec, shopper=shopper)


def state():
    return (
        credit_state(),
        list(PromotionRedemption.objects.values_list("pk", flat=True)),
        list(Promotion.objects.order_by("pk").values_list("pk", "uses_count")),
        list(PromotionAmount.objects.order_by("pk").values_list("pk", "budget_used")),
        list(PromotionCode.objects.order_by("pk").values_list("pk", "redeemed_at")),
    )


@pytest.mark.django_db
def test_credit10_grants_a_lot_expiring_30_days_after_today_in_the_region(
    user, django_capture_on_commit_callbacks
):
    promotion = credit10()

    with django_capture_on_commit_callbacks(execute=True):
        lot = apply(user)

    today = region_today(Region.objects.get(code="US"))
    assert (lot.amount, lot.currency) == (1000, "USD")
    assert lot.expires_on == today + datetime.timedelta(days=30)
    assert lot.reference == "promotion:credit10"
    assert lot.grant_transfer.idempotency_key == f"promotion-credit:{promotion.pk}:{user.pk}:1"
    redemption = PromotionRedemption.objects.get()
    assert (redemption.order_number, redemption.amount, redemption.currency) == ("", 1000, "USD")
    assert redemption.once_per_shopper
    promotion.refresh_from_db()
    assert promotion.uses_count == 1
    balance = wallet_balance_get(user=user)
    assert (balance.amount, balance.credit) == (1000, 1000)
    assert ledger_reconcile().clean
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert "$10.00" in message.subject
    assert "$10.00" in message.body
    assert f"{lot.expires_on:%B} {lot.expires_on.day}, {lot.expires_on.year}" in message.body
    assert "CREDIT10" in message.body


@pytest.mark.django_db
def test_a_yen_shopper_gets_yen_credit():
    credit10()
    shopper = UserFactory(region_id="JP")
    lot = apply(shopper)
    assert (lot.amount, lot.currency) == (1500, "JPY")
    assert lot.expires_on == region_today(Region.objects.get(code="JP")) + datetime.timedelta(
        days=30
    )


@pytest.mark.django_db
def test_once_per_shopper_the_second_apply_is_already_used_and_writes_nothing(
    user, django_capture_on_commit_callbacks
):
    credit10()
    apply(user)
    before = state()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(PromotionRefused) as refused,
    ):
        apply(user)
    assert refused.value.reason == "already_used"
    assert "already used CREDIT10" in refused.value.message
    assert state() == before
    assert CreditLot.objects.count() == 1
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_another_shopper_may_apply_it_too(user, other_user):
    credit10()
    apply(user)
    apply(other_user)
    assert CreditLot.objects.count() == 2
    assert Promotion.objects.get().uses_count == 2


@pytest.mark.django_db
def test_a_shopper_limit_above_one_grants_one_lot_per_use(user):
    promotion = credit10(per_shopper_limit=2)
    first, second = apply(user), apply(user)
    assert first.pk != second.pk
    assert second.grant_transfer.idempotency_key.endswith(f":{user.pk}:2")
    assert not PromotionRedemption.objects.filter(once_per_shopper=True).exists()
    with pytest.raises(PromotionRefused) as refused:
        apply(user)
    assert refused.value.reason == "already_used"
    promotion.refresh_from_db()
    assert promotion.uses_count == 2


@pytest.mark.django_db
def test_the_total_limit_is_enforced(user, other_user):
    credit10(total_limit=1)
    apply(user)
    before = state()
    with pytest.raises(PromotionRefused) as refused:
        apply(other_user)
    assert refused.value.reason == "usage_limit_reached"
    assert state() == before


@pytest.mark.django_db
def test_the_budget_trims_the_last_grant_then_refuses(user, other_user):
    credit10(amounts={"USD": {"amount_off": 1000, "budget": 1500}})
    third = UserFactory()
    assert apply(user).amount == 1000
    assert apply(other_user).amount == 500  # what is left of the budget, never more
    assert PromotionAmount.objects.get().budget_used == 1500
    before = state()
    with pytest.raises(PromotionRefused) as refused:
        apply(third)
    assert refused.value.reason == "usage_limit_reached"
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": Promotion.Status.DISABLED}, "not_found"),
        ({"status": Promotion.Status.PENDING_APPROVAL}, "not_found"),
        ({"ends_on": datetime.date(2020, 1, 1)}, "expired"),
        ({"starts_on": datetime.date(2099, 1, 1)}, "not_started"),
        ({"regions": ["GB"]}, "wrong_region"),
        ({"amounts": {"JPY": {"amount_off": 1500}}}, "wrong_region"),
        ({"first_order_only": True}, "first_order_only"),
    ],
)
def test_each_refusal_names_its_reason_and_writes_nothing(user, fields, reason):
    credit10(**fields)
    before = state()
    with pytest.raises(PromotionRefused) as refused:
        apply(user, has_orders=True)
    assert refused.value.reason == reason
    assert refused.value.message
    assert state() == before


@pytest.mark.django_db
def test_an_unknown_code_is_not_found_and_writes_nothing(user):
    credit10()
    before = state()
    with pytest.raises(PromotionRefused) as refused:
        apply(user, code="NOSUCHCODE")
    assert refused.value.reason == "not_found"
    assert state() == before


@pytest.mark.django_db
def test_a_discount_code_is_not_a_credit_code(user):
    promotion_with_code("SAVE5", kind=Promotion.Kind.FIXED, percent=None, amount_off=500)
    before = state()
    with pytest.raises(PromotionRefused) as refused:
        apply(user, code="SAVE5")
    assert refused.value.reason == "not_found"
    assert state() == before


@pytest.mark.django_db
def test_a_single_use_credit_code_is_spent_once(user, other_user):
    unique_code_promotion(
        codes=["GIFTAB12"],
        slug="credit-unique",
        kind=Promotion.Kind.CREDIT,
        percent=None,
        credit_days=10,
        amount_off=700,
    )
    lot = apply(user, code="GIFTAB12")
    assert lot.amount == 700
    assert PromotionCode.objects.get().redeemed_at is not None
    assert PromotionRedemption.objects.get().single_use_code
    before = state()
    with pytest.raises(PromotionRefused) as refused:
        apply(other_user, code="GIFTAB12")
    assert refused.value.reason == "usage_limit_reached"
    assert state() == before


@pytest.mark.django_db
def test_the_credit_is_spendable_at_once(user):
    credit10()
    apply(user)
    assert wallet_balance_get(user=user).amount == 1000
    assert Transfer.objects.filter(kind=Transfer.Kind.CREDIT_GRANT).count() == 1


# --- PostgreSQL race ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("round_", range(1, 3))  # twice over
def test_twenty_parallel_applies_by_one_shopper_grant_exactly_one_lot(round_):
    if connection.vendor != "postgresql":
        pytest.fail(f"race tests need PostgreSQL, got {connection.vendor!r}", pytrace=False)
    promotion = credit10()
    shopper = UserFactory(region_id="US")

    outcomes = run_together([lambda: apply(shopper) for _ in range(THREADS)])

    errors = [o.error for o in outcomes if o.error is not None]
    assert all(isinstance(e, PromotionRefused) for e in errors), errors
    assert sorted(e.reason for e in errors) == ["already_used"] * (THREADS - 1)
    assert CreditLot.objects.filter(user=shopper).count() == 1
    assert PromotionRedemption.objects.filter(user=shopper).count() == 1
    promotion.refresh_from_db()
    assert promotion.uses_count == 1
    assert wallet_balance_get(user=shopper).credit == 1000
    report = ledger_reconcile()
    assert report.clean, report


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("round_", range(1, 3))  # twice over
def test_twenty_shoppers_at_once_never_pass_the_total_limit(round_):
    if connection.vendor != "postgresql":
        pytest.fail(f"race tests need PostgreSQL, got {connection.vendor!r}", pytrace=False)
    promotion = credit10(total_limit=3)
    shoppers = [UserFactory(region_id="US") for _ in range(THREADS)]

    outcomes = run_together([lambda s=s: apply(s) for s in shoppers])

    errors = [o.error for o in outcomes if o.error is not None]
    assert all(isinstance(e, PromotionRefused) for e in errors), errors
    assert sorted(e.reason for e in errors) == ["usage_limit_reached"] * (THREADS - 3)
    assert CreditLot.objects.count() == 3
    promotion.refresh_from_db()
    assert promotion.uses_count == 3
