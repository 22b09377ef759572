"""The two-person rule over a day: what one staff member made live alone in the last 24 hours
counts with their next promotion (three of 999.00 are not three small ones); far too large is
refused outright; who changed a promotion is recorded, and its audit entry says what changed."""

import dataclasses
import datetime

import pytest
from django.utils import timezone

from promotions.approval import AmountTerms, PromotionTerms
from promotions.changes import DETAIL_LENGTH, promotion_changes_lines
from promotions.models import Promotion, PromotionAmount, PromotionCode
from promotions.services import (
    promotion_approve,
    promotion_change,
    promotion_create,
    promotion_disable,
)
from promotions.services.staff import CHANGED, promotion_requesters
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.promotions.staff_users import APPROVE, MANAGE, approver, manager, promo_staff
from tests.promotions.test_credit_apply import apply as apply_credit
from wallet.exceptions import OverLimit, SelfApproval
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db

Status = Promotion.Status


def credit_terms(slug="gift999", *, amount=99_900, **kwargs) -> PromotionTerms:
    """999.00 of promotional credit, once, in the US only: worth 999.00, just under 1,000.00."""
    fields = {
        "slug": slug,
        "name": "Credit",
        "kind": Promotion.Kind.CREDIT,
        "codes": Promotion.Codes.VANITY,
        "code": slug.upper(),
        "credit_days": 30,
        "total_limit": 1,
        "region_codes": frozenset({"US"}),
        "amounts": {"USD": AmountTerms(amount_off=amount)},
        **kwargs,
    }
    return PromotionTerms(**fields)


def _statuses(*promotions):
    return [Promotion.objects.get(pk=p.pk).status for p in promotions]


def test_three_just_under_the_threshold_by_one_person_one_goes_live_alone():
    staff = manager()
    made = [promotion_create(terms=credit_terms(f"gift{i}"), created_by=staff) for i in range(3)]

    assert _statuses(*made) == [Status.ACTIVE, Status.PENDING_APPROVAL, Status.PENDING_APPROVAL]
    second = AuditEntry.objects.filter(target=f"promotion #{made[1].pk}").get()
    assert (
        "with the 999.00 USD the same person made live alone in the last 24 hours" in second.detail
    )
    assert made[0].approved_at is not None
    assert made[0].approved_by is None
    assert made[1].approved_at is None


def test_another_person_has_their_own_allowance():
    promotion_create(terms=credit_terms("gift1"), created_by=manager())
    other = promotion_create(terms=credit_terms("gift2"), created_by=manager())
    assert other.status == Status.ACTIVE


def test_small_ones_add_up_to_the_threshold_and_not_beyond():
    staff = manager()
    made = [
        promotion_create(terms=credit_terms(f"gift{i}", amount=25_000), created_by=staff)
        for i in range(5)
    ]
    # 4 x 250.00 = 1,000.00 is within; the fifth would make 1,250.00.
    assert _statuses(*made) == [Status.ACTIVE] * 4 + [Status.PENDING_APPROVAL]


def test_only_the_same_currency_counts():
    staff = manager()
    promotion_create(terms=credit_terms("gift1"), created_by=staff)
    pounds = credit_terms(
        "gift2",
        region_codes=frozenset({"GB"}),
        amounts={"GBP": AmountTerms(amount_off=70_000)},
    )
    assert promotion_create(terms=pounds, created_by=staff).status == Status.ACTIVE


def test_what_went_live_over_a_day_ago_or_was_approved_does_not_count():
    staff = manager()
    old = promotion_create(terms=credit_terms("gift1"), created_by=staff)
    Promotion.objects.filter(pk=old.pk).update(
        approved_at=timezone.now() - datetime.timedelta(hours=24, minutes=1)
    )
    assert promotion_create(terms=credit_terms("gift2"), created_by=staff).status == Status.ACTIVE

    staff2 = manager()
    big = promotion_create(terms=credit_terms("gift3", amount=150_000), created_by=staff2)
    assert big.status == Status.PENDING_APPROVAL
    promotion_approve(promotion_id=big.pk, approved_by=approver())
    assert promotion_create(terms=credit_terms("gift4"), created_by=staff2).status == Status.ACTIVE


def test_one_taken_off_counts_what_it_gave_while_it_was_live():
    staff = manager()
    first = promotion_create(terms=credit_terms("gift2", amount=40_000), created_by=staff)
    apply_credit(UserFactory(region_id="US"), "GIFT2")  # 400.00 given
    promotion_disable(promotion_id=first.pk, disabled_by=staff, reason="used up")

    # 400.00 given + 600.00 = 1,000.00 is within; 600.01 would not be.
    over = promotion_create(terms=credit_terms("gift3", amount=60_001), created_by=staff)
    assert over.status == Status.PENDING_APPROVAL
    within = promotion_create(terms=credit_terms("gift4", amount=60_000), created_by=staff)
    assert within.status == Status.ACTIVE


def test_sending_a_used_one_back_for_approval_does_not_start_the_day_again():
    staff = manager()
    used = promotion_create(terms=credit_terms("gift1"), created_by=staff)
    apply_credit(UserFactory(region_id="US"), "GIFT1")  # 999.00 given
    promotion_change(
        promotion_id=used.pk, terms=credit_terms("gift1", total_limit=5), changed_by=staff
    )
    used.refresh_from_db()
    assert used.status == Status.PENDING_APPROVAL
    assert used.approved_at is not None  # when it went live alone: what it gave still counts

    assert promotion_create(terms=credit_terms("gift2"), created_by=staff).status == (
        Status.PENDING_APPROVAL
    )


def test_a_waiting_or_rejected_one_counts_nothing():
    staff = manager()
    waiting = promotion_create(terms=credit_terms("gift1", amount=150_000), created_by=staff)
    promotion_disable(promotion_id=waiting.pk, disabled_by=staff, reason="not needed")
    assert promotion_create(terms=credit_terms("gift2"), created_by=staff).status == Status.ACTIVE


def test_a_change_counts_for_the_changer_and_the_promotion_is_measured_anew():
    creator, changer = manager(), manager()
    theirs = promotion_create(terms=credit_terms("gift1", amount=10_000), created_by=creator)
    promotion_create(terms=credit_terms("gift2"), created_by=changer)

    promotion_change(
        promotion_id=theirs.pk, terms=credit_terms("gift1", amount=50_000), changed_by=changer
    )

    theirs.refresh_from_db()
    # 999.00 live alone + 500.00 is above 1,000.00: the change waits.
    assert theirs.status == Status.PENDING_APPROVAL
    assert theirs.changed_by == changer

    # Changing one's own live promotion measures its new value, not old + new.
    own = promotion_create(terms=credit_terms("gift3"), created_by=manager())
    promotion_change(
        promotion_id=own.pk,
        terms=credit_terms("gift3", ends_on=datetime.date(2030, 1, 1)),
        changed_by=own.created_by,
    )
    own.refresh_from_db()
    assert own.status == Status.ACTIVE


def test_the_changer_of_a_live_alone_promotion_answers_for_it():
    creator, changer = manager(), manager()
    theirs = promotion_create(terms=credit_terms("gift1"), created_by=creator)
    promotion_change(
        promotion_id=theirs.pk,
        terms=credit_terms("gift1", ends_on=datetime.date(2030, 1, 1)),
        changed_by=changer,
    )
    assert promotion_create(terms=credit_terms("gift2"), created_by=changer).status == (
        Status.PENDING_APPROVAL
    )


def _nothing_written():
    assert not Promotion.objects.exists()
    assert not PromotionAmount.objects.exists()
    assert not PromotionCode.objects.exists()


def test_worth_more_than_a_thousand_times_the_threshold_is_refused_audited_nothing_written():
    staff = manager()
    with pytest.raises(OverLimit, match="is refused"):
        promotion_create(terms=credit_terms(amount=100_000_001), created_by=staff)
    _nothing_written()
    [refused] = AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED)
    assert refused.actor == staff

    # At the limit it is not refused: it waits.
    at_limit = promotion_create(terms=credit_terms(amount=100_000_000), created_by=staff)
    assert at_limit.status == Status.PENDING_APPROVAL

    with pytest.raises(OverLimit):
        promotion_change(
            promotion_id=at_limit.pk, terms=credit_terms(amount=100_000_001), changed_by=staff
        )
    at_limit.refresh_from_db()
    assert at_limit.amounts.get().amount_off == 100_000_000
    assert not AuditEntry.objects.filter(action=CHANGED).exists()


# --- who changed it -----------------------------------------------------------------------


def test_every_change_records_its_changer_even_the_wording():
    promotion = promotion_create(terms=credit_terms(), created_by=manager())
    changer = manager()
    promotion_change(promotion_id=promotion.pk, terms=credit_terms(name="New"), changed_by=changer)
    promotion.refresh_from_db()
    assert promotion.changed_by == changer


def test_a_wording_fix_by_someone_else_does_not_let_the_requester_approve():
    creator = manager()
    asker = promo_staff(*MANAGE, *APPROVE)
    fixer = promo_staff(*MANAGE, *APPROVE)
    promotion = promotion_create(terms=credit_terms(), created_by=creator)
    promotion_change(
        promotion_id=promotion.pk, terms=credit_terms(amount=150_000), changed_by=asker
    )
    promotion_change(
        promotion_id=promotion.pk, terms=credit_terms(amount=150_000, name="Typo"), changed_by=fixer
    )
    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL
    assert promotion_requesters(promotion=promotion) == {creator.pk, asker.pk, fixer.pk}
    for person in (asker, fixer):
        with pytest.raises(SelfApproval):
            promotion_approve(promotion_id=promotion.pk, approved_by=person)
    promotion_approve(promotion_id=promotion.pk, approved_by=approver())
    promotion.refresh_from_db()
    assert promotion.status == Status.ACTIVE
    # After that approval, only the creator and the last changer are kept out.
    assert promotion_requesters(promotion=promotion) == {creator.pk, fixer.pk}


# --- what changed -------------------------------------------------------------------------


def _last_change_lines():
    entry = AuditEntry.objects.filter(action=CHANGED).latest("id")
    return promotion_changes_lines(entry.detail)


def test_the_change_audit_lists_each_changed_term_old_to_new():
    terms = PromotionTerms(
        slug="spring",
        name="Spring",
        kind=Promotion.Kind.PERCENT,
        percent=10,
        code="SPRING",
        total_limit=10,
        region_codes=frozenset({"US"}),
        amounts={"USD": AmountTerms(cap=1_000)},
    )
    promotion = promotion_create(terms=terms, created_by=manager())
    changed = dataclasses.replace(
        terms,
        percent=20,
        total_limit=20,
        per_shopper_limit=1,
        starts_on=datetime.date(2030, 3, 1),
        ends_on=datetime.date(2030, 3, 31),
        region_codes=frozenset({"US", "GB"}),
        amounts={"USD": AmountTerms(cap=3_000), "GBP": AmountTerms(cap=2_500)},
    )
    promotion_change(promotion_id=promotion.pk, terms=changed, changed_by=manager())

    outcome, lines = _last_change_lines()
    assert outcome.startswith("spring: ")
    assert lines == [
        "percent: 10 → 20",
        "starts on: not set → 2030-03-01",
        "ends on: not set → 2030-03-31",
        "limit per shopper: not set → 1",
        "total limit: 10 → 20",
        "regions: US → GB, US",
        "GBP cap per use: not set → 25.00",
        "USD cap per use: 10.00 → 30.00",
    ]


def test_the_change_audit_names_the_target_items_and_the_kind():
    books, games = CategoryFactory(slug="books"), CategoryFactory(slug="games")
    terms = credit_terms()
    promotion = promotion_create(terms=terms, created_by=manager())
    changed = dataclasses.replace(
        terms,
        kind=Promotion.Kind.FIXED,
        target=Promotion.Target.ITEMS,
        credit_days=None,
        category_ids=frozenset({books.pk, games.pk}),
    )
    promotion_change(promotion_id=promotion.pk, terms=changed, changed_by=manager())
    _, lines = _last_change_lines()
    assert "kind: Promotional credit → Fixed amount off" in lines
    assert "applies to: The whole order → Some categories or products" in lines
    assert "categories: none → books, games" in lines


def test_a_change_too_long_to_list_whole_still_fits_and_names_what_it_left():
    products = [ProductFactory(slug=f"a-long-product-slug-number-{i:03}") for i in range(40)]
    terms = credit_terms()
    promotion = promotion_create(terms=terms, created_by=manager())
    changed = dataclasses.replace(
        terms,
        kind=Promotion.Kind.FIXED,
        target=Promotion.Target.ITEMS,
        credit_days=None,
        product_ids=frozenset(p.pk for p in products),
        total_limit=5,
    )
    promotion_change(promotion_id=promotion.pk, terms=changed, changed_by=manager())
    entry = AuditEntry.objects.filter(action=CHANGED).latest("id")
    assert len(entry.detail) <= DETAIL_LENGTH
    _, lines = promotion_changes_lines(entry.detail)
    assert "kind: Promotional credit → Fixed amount off" in lines
    assert any("products" in line for line in lines)
    assert "total limit" in entry.detail
