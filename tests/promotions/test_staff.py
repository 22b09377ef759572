"""Staff creating, changing, approving, rejecting and disabling promotions: the value threshold
per currency, the two-person rule, the audit log, and nothing written on a refusal."""

import dataclasses

import pytest

from promotions.approval import AmountTerms, promotion_value
from promotions.codes import promo_code_hash
from promotions.models import Promotion, PromotionAmount, PromotionCode
from promotions.services import (
    promotion_approve,
    promotion_change,
    promotion_create,
    promotion_disable,
    promotion_reject,
)
from promotions.services.staff import (
    APPROVED,
    CHANGED,
    CREATED,
    DISABLED,
    REJECTED,
    promotion_requested_by,
)
from promotions.terms import PromotionTermsInvalid
from tests.promotions.staff_users import (
    APPROVE,
    MANAGE,
    approver,
    fixed_terms,
    manager,
    percent_terms,
    promo_staff,
)
from wallet.exceptions import InvalidState, NotFound, SelfApproval, StaffPermissionDenied
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db

Status = Promotion.Status


def _audit(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def _nothing_written():
    assert not Promotion.objects.exists()
    assert not PromotionAmount.objects.exists()
    assert not PromotionCode.objects.exists()


# --- value --------------------------------------------------------------------------------


def test_value_is_one_use_times_the_limit_or_the_budget_whichever_is_less():
    terms = fixed_terms(amount=500, total_limit=10)
    assert promotion_value(terms, currency="USD") == 5000
    assert promotion_value(terms, currency="JPY") == 7500
    budgeted = dataclasses.replace(terms, amounts={"USD": AmountTerms(amount_off=500, budget=2000)})
    assert promotion_value(budgeted, currency="USD") == 2000
    assert promotion_value(budgeted, currency="GBP") == 0  # fixed, no amount: not offered


def test_a_percentage_without_a_cap_has_no_bound_and_with_one_it_has():
    assert promotion_value(percent_terms(total_limit=5), currency="USD") is None
    capped = percent_terms(total_limit=5, amounts={"USD": AmountTerms(cap=3000)})
    assert promotion_value(capped, currency="USD") == 15000
    assert promotion_value(capped, currency="EUR") is None
    budget_only = percent_terms(amounts={"USD": AmountTerms(budget=10000)})
    assert promotion_value(budget_only, currency="USD") == 10000


# --- create -------------------------------------------------------------------------------


def test_a_small_promotion_is_active_at_once_with_its_hashed_code_and_audited():
    staff = manager()

    promotion = promotion_create(terms=fixed_terms(), created_by=staff)

    assert promotion.status == Status.ACTIVE
    assert promotion.created_by == staff
    assert promotion.approved_by is None
    assert {a.currency: a.amount_off for a in promotion.amounts.all()} == {
        "USD": 500,
        "GBP": 500,
        "EUR": 500,
        "JPY": 750,
    }
    code = PromotionCode.objects.get(promotion=promotion)
    assert code.code_hash == promo_code_hash("SAVE5")
    assert not code.single_use
    [entry] = _audit(CREATED)
    assert entry.actor == staff
    assert entry.target == f"promotion #{promotion.pk}"
    assert "active" in entry.detail


@pytest.mark.parametrize(
    ("total_limit", "status"),
    [(200, Status.ACTIVE), (201, Status.PENDING_APPROVAL)],  # 5.00 x 200 = 1,000.00 = the max
)
def test_above_the_usd_threshold_waits_at_it_does_not(total_limit, status):
    terms = fixed_terms(
        total_limit=total_limit,
        region_codes=frozenset({"US"}),
        amounts={"USD": AmountTerms(amount_off=500)},
    )
    promotion = promotion_create(terms=terms, created_by=manager())
    assert promotion.status == status


def test_the_threshold_is_per_currency(settings):
    settings.PROMOTION_APPROVAL_MAX_VALUE = {
        "USD": "1000",
        "GBP": "800",
        "EUR": "900",
        "JPY": "5000",
    }

    promotion = promotion_create(terms=fixed_terms(total_limit=10), created_by=manager())

    assert promotion.status == Status.PENDING_APPROVAL  # ¥7,500 > ¥5,000; $50 is fine
    [entry] = _audit(CREATED)
    assert "JPY: worth up to 7500 JPY, above 5000 JPY" in entry.detail
    assert "USD" not in entry.detail


def test_a_region_only_promotion_is_measured_in_its_currencies_only(settings):
    settings.PROMOTION_APPROVAL_MAX_VALUE = {"USD": "1000", "JPY": "1"}
    terms = fixed_terms(
        region_codes=frozenset({"US"}), amounts={"USD": AmountTerms(amount_off=500)}
    )

    assert promotion_create(terms=terms, created_by=manager()).status == Status.ACTIVE


def test_a_currency_without_a_threshold_waits(settings):
    settings.PROMOTION_APPROVAL_MAX_VALUE = {"USD": "1000"}
    promotion = promotion_create(terms=fixed_terms(), created_by=manager())
    assert promotion.status == Status.PENDING_APPROVAL


def test_an_unbounded_promotion_always_waits():
    promotion = promotion_create(terms=percent_terms(), created_by=manager())
    assert promotion.status == Status.PENDING_APPROVAL
    assert "no cap, budget or limit" in _audit(CREATED)[0].detail


def test_create_without_the_permission_is_refused_audited_and_writes_nothing():
    clerk = promo_staff("view_promotion")

    with pytest.raises(StaffPermissionDenied):
        promotion_create(terms=fixed_terms(), created_by=clerk)

    _nothing_written()
    [entry] = _audit(AuditEntry.Action.REFUSED)
    assert entry.actor == clerk
    assert "promotions.add_promotion" in entry.detail


@pytest.mark.parametrize(
    "change",
    [
        {"slug": "Bad Slug"},
        {"name": " "},
        {"code": "NO"},
        {"code": "ABCD-EFGH"},  # not canonical
        {"kind": Promotion.Kind.FIXED, "amounts": {}},
        {"target": Promotion.Target.SHIPPING},
        {"percent": 5},
        {"total_limit": 0},
        {"region_codes": frozenset({"XX"})},
        {"codes": Promotion.Codes.AUTOMATIC},  # an automatic one has no code
        {"amounts": {"CHF": AmountTerms(amount_off=500)}},
    ],
)
def test_invalid_terms_are_refused_and_nothing_is_written(change):
    with pytest.raises(PromotionTermsInvalid):
        promotion_create(terms=dataclasses.replace(fixed_terms(), **change), created_by=manager())
    _nothing_written()
    assert not AuditEntry.objects.exists()


def test_a_claim_code_shape_is_refused_as_a_vanity_code():
    from wallet.codes import code_generate

    with pytest.raises(PromotionTermsInvalid, match="gift card"):
        promotion_create(terms=fixed_terms(code=code_generate()), created_by=manager())
    _nothing_written()


def test_a_taken_slug_or_code_is_refused():
    promotion_create(terms=fixed_terms(), created_by=manager())
    with pytest.raises(PromotionTermsInvalid, match="slug"):
        promotion_create(terms=fixed_terms(code="OTHER"), created_by=manager())
    with pytest.raises(PromotionTermsInvalid, match="code"):
        promotion_create(terms=fixed_terms("other", code="SAVE5"), created_by=manager())
    assert Promotion.objects.count() == 1


# --- approve ------------------------------------------------------------------------------


def _pending(created_by=None):
    promotion = promotion_create(terms=percent_terms(), created_by=created_by or manager())
    assert promotion.status == Status.PENDING_APPROVAL
    return promotion


def test_a_second_staff_member_approves():
    promotion = _pending()
    second = approver()

    approved = promotion_approve(promotion_id=promotion.pk, approved_by=second)

    promotion.refresh_from_db()
    assert approved.status == promotion.status == Status.ACTIVE
    assert promotion.approved_by == second
    assert promotion.approved_at is not None
    [entry] = _audit(APPROVED)
    assert entry.actor == second


def test_the_creator_cannot_approve_their_own_even_with_the_permission():
    creator = promo_staff(*MANAGE, *APPROVE)
    promotion = _pending(creator)

    with pytest.raises(SelfApproval):
        promotion_approve(promotion_id=promotion.pk, approved_by=creator)

    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL
    assert promotion.approved_by is None
    assert not _audit(APPROVED)
    [refused] = _audit(AuditEntry.Action.REFUSED)
    assert refused.actor == creator
    assert refused.target == f"promotion #{promotion.pk}"


def test_whoever_changed_it_cannot_approve_it_nor_can_its_creator():
    creator = promo_staff(*MANAGE, *APPROVE)
    changer = promo_staff(*MANAGE, *APPROVE)
    promotion = promotion_create(terms=fixed_terms(), created_by=creator)
    assert promotion.status == Status.ACTIVE

    promotion_change(
        promotion_id=promotion.pk, terms=fixed_terms(total_limit=None), changed_by=changer
    )

    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL  # no limit: no bound
    assert promotion_requested_by(promotion=promotion) == changer.pk
    for person in (changer, creator):
        with pytest.raises(SelfApproval):
            promotion_approve(promotion_id=promotion.pk, approved_by=person)
    promotion_approve(promotion_id=promotion.pk, approved_by=approver())
    promotion.refresh_from_db()
    assert promotion.status == Status.ACTIVE


def test_approving_without_the_permission_is_refused_and_audited():
    promotion = _pending()
    other_manager = manager()

    with pytest.raises(StaffPermissionDenied):
        promotion_approve(promotion_id=promotion.pk, approved_by=other_manager)

    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL
    assert _audit(AuditEntry.Action.REFUSED)[0].actor == other_manager


def test_approving_an_active_or_missing_promotion_is_refused():
    active = promotion_create(terms=fixed_terms(), created_by=manager())
    with pytest.raises(InvalidState):
        promotion_approve(promotion_id=active.pk, approved_by=approver())
    with pytest.raises(NotFound):
        promotion_approve(promotion_id=active.pk + 100, approved_by=approver())
    assert not _audit(APPROVED)


def test_approving_terms_changed_since_they_were_shown_is_refused():
    promotion = _pending()
    shown = promotion.updated_at
    promotion_change(
        promotion_id=promotion.pk, terms=percent_terms(percent=90), changed_by=manager()
    )

    with pytest.raises(InvalidState, match="changed"):
        promotion_approve(promotion_id=promotion.pk, approved_by=approver(), seen_updated_at=shown)

    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL
    assert promotion.percent == 90


# --- change -------------------------------------------------------------------------------


def test_a_change_above_the_threshold_takes_an_active_promotion_back_to_waiting():
    promotion = promotion_create(terms=fixed_terms(), created_by=manager())
    assert promotion.status == Status.ACTIVE

    promotion_change(
        promotion_id=promotion.pk, terms=fixed_terms(total_limit=1000), changed_by=manager()
    )

    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL
    assert promotion.total_limit == 1000
    [entry] = _audit(CHANGED)
    assert "waits for approval" in entry.detail


def test_a_change_of_the_wording_alone_keeps_the_approval():
    promotion = _pending()
    first = approver()
    promotion_approve(promotion_id=promotion.pk, approved_by=first)

    promotion_change(
        promotion_id=promotion.pk,
        terms=percent_terms(name="Twenty off", description="Spring"),
        changed_by=manager(),
    )

    promotion.refresh_from_db()
    assert (promotion.status, promotion.approved_by, promotion.name) == (
        Status.ACTIVE,
        first,
        "Twenty off",
    )


def test_a_change_never_writes_the_usage():
    promotion = promotion_create(
        terms=fixed_terms(amounts={"USD": AmountTerms(amount_off=500, budget=5000)}),
        created_by=manager(),
    )
    Promotion.objects.filter(pk=promotion.pk).update(uses_count=3)
    PromotionAmount.objects.filter(promotion=promotion).update(budget_used=1500)

    promotion_change(
        promotion_id=promotion.pk,
        terms=fixed_terms(amounts={"USD": AmountTerms(amount_off=400, budget=4000)}),
        changed_by=manager(),
    )

    promotion.refresh_from_db()
    row = promotion.amounts.get()
    assert (promotion.uses_count, row.budget_used, row.budget, row.amount_off) == (
        3,
        1500,
        4000,
        400,
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"total_limit": 2}, "already used 3 times"),
        ({"amounts": {"USD": AmountTerms(amount_off=500, budget=1000)}}, "already given"),
        ({"code": "NEWCODE"}, "cannot change"),
    ],
)
def test_a_change_that_cannot_be_is_refused_and_nothing_is_written(change, match):
    staff = manager()
    promotion = promotion_create(
        terms=fixed_terms(amounts={"USD": AmountTerms(amount_off=500, budget=5000)}),
        created_by=staff,
    )
    Promotion.objects.filter(pk=promotion.pk).update(uses_count=3)
    PromotionAmount.objects.filter(promotion=promotion).update(budget_used=1500)
    before = Promotion.objects.filter(pk=promotion.pk).values().get()
    amounts_before = list(PromotionAmount.objects.values())

    with pytest.raises(PromotionTermsInvalid, match=match):
        promotion_change(
            promotion_id=promotion.pk,
            terms=dataclasses.replace(fixed_terms(name="changed"), **change),
            changed_by=staff,
        )

    assert Promotion.objects.filter(pk=promotion.pk).values().get() == before
    assert list(PromotionAmount.objects.values()) == amounts_before
    assert not _audit(CHANGED)


def test_a_change_over_someone_elses_is_refused():
    promotion = promotion_create(terms=fixed_terms(), created_by=manager())
    opened = promotion.updated_at
    promotion_change(
        promotion_id=promotion.pk, terms=fixed_terms(name="first"), changed_by=manager()
    )

    with pytest.raises(InvalidState):
        promotion_change(
            promotion_id=promotion.pk,
            terms=fixed_terms(name="second"),
            changed_by=manager(),
            seen_updated_at=opened,
        )
    promotion.refresh_from_db()
    assert promotion.name == "first"


def test_change_without_the_permission_is_refused_and_audited():
    promotion = promotion_create(terms=fixed_terms(), created_by=manager())
    viewer = promo_staff("view_promotion")

    with pytest.raises(StaffPermissionDenied):
        promotion_change(promotion_id=promotion.pk, terms=fixed_terms(name="x"), changed_by=viewer)

    promotion.refresh_from_db()
    assert promotion.name == "5 off"
    assert _audit(AuditEntry.Action.REFUSED)[0].actor == viewer


# --- reject and disable -------------------------------------------------------------------


def test_an_approver_rejects_with_a_reason_and_it_is_audited():
    promotion = _pending()
    second = approver()

    with pytest.raises(Exception, match="say why"):
        promotion_reject(promotion_id=promotion.pk, rejected_by=second, reason=" ")
    promotion_reject(promotion_id=promotion.pk, rejected_by=second, reason="too generous")

    promotion.refresh_from_db()
    assert promotion.status == Status.REJECTED
    [entry] = _audit(REJECTED)
    assert (entry.actor, entry.detail) == (second, "too generous")


def test_the_requester_may_withdraw_others_need_the_permission():
    creator = manager()
    promotion = _pending(creator)
    with pytest.raises(StaffPermissionDenied):
        promotion_reject(promotion_id=promotion.pk, rejected_by=manager(), reason="no")
    promotion_reject(promotion_id=promotion.pk, rejected_by=creator, reason="mistake")
    promotion.refresh_from_db()
    assert promotion.status == Status.REJECTED


def test_disable_stops_a_promotion_once_and_is_audited():
    staff = manager()
    promotion = promotion_create(terms=fixed_terms(), created_by=staff)

    promotion_disable(promotion_id=promotion.pk, disabled_by=staff, reason="campaign over")

    promotion.refresh_from_db()
    assert promotion.status == Status.DISABLED
    assert _audit(DISABLED)[0].detail == "campaign over"
    with pytest.raises(InvalidState):
        promotion_disable(promotion_id=promotion.pk, disabled_by=staff, reason="again")
    assert len(_audit(DISABLED)) == 1


def test_disable_without_the_permission_is_refused():
    promotion = promotion_create(terms=fixed_terms(), created_by=manager())
    with pytest.raises(StaffPermissionDenied):
        promotion_disable(
            promotion_id=promotion.pk, disabled_by=promo_staff("view_promotion"), reason="x"
        )
    promotion.refresh_from_db()
    assert promotion.status == Status.ACTIVE


def test_a_disabled_promotion_stays_disabled_when_changed():
    staff = manager()
    promotion = promotion_create(terms=fixed_terms(), created_by=staff)
    promotion_disable(promotion_id=promotion.pk, disabled_by=staff, reason="pause")

    promotion_change(promotion_id=promotion.pk, terms=fixed_terms(total_limit=5), changed_by=staff)

    promotion.refresh_from_db()
    assert (promotion.status, promotion.total_limit) == (Status.DISABLED, 5)


@pytest.mark.parametrize("promotion_id", [0, -1, 2**63, 10**20])
def test_an_id_no_promotion_can_have_is_not_found(promotion_id):
    with pytest.raises(NotFound):
        promotion_approve(promotion_id=promotion_id, approved_by=approver())
    with pytest.raises(NotFound):
        promotion_disable(promotion_id=promotion_id, disabled_by=manager(), reason="x")


def test_removing_a_used_currency_keeps_its_usage_and_a_later_wording_change_stays_wording():
    staff = manager()
    promotion = promotion_create(
        terms=fixed_terms(
            amounts={"USD": AmountTerms(amount_off=500), "GBP": AmountTerms(amount_off=500)}
        ),
        created_by=staff,
    )
    PromotionAmount.objects.filter(promotion=promotion, currency="GBP").update(budget_used=500)
    only_usd = fixed_terms(amounts={"USD": AmountTerms(amount_off=500)})

    promotion_change(promotion_id=promotion.pk, terms=only_usd, changed_by=staff)
    gbp = PromotionAmount.objects.get(promotion=promotion, currency="GBP")
    assert (gbp.amount_off, gbp.budget_used) == (None, 500)

    promotion_change(
        promotion_id=promotion.pk,
        terms=dataclasses.replace(only_usd, name="renamed"),
        changed_by=staff,
    )
    assert "wording only" in _audit(CHANGED)[-1].detail
