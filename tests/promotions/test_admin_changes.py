"""The approver sees what a change changed: the promotion's page lists each change since it was
last approved, with each changed term old → new (from the change's audit entry)."""

import pytest
from django.test import Client
from django.urls import reverse

from promotions.approval import AmountTerms
from promotions.services import promotion_approve, promotion_change, promotion_create
from tests.accounts.two_factor import login_staff
from tests.promotions.staff_users import approver, fixed_terms, manager

pytestmark = pytest.mark.django_db


def _page(user, promotion):
    client = login_staff(Client(), user)
    return client.get(reverse("admin:promotions_promotion_change", args=[promotion.pk]))


def _rows(response):
    return [
        [(term, was_now) for term, was_now in change.lines]
        for change in response.context["changes"]
    ]


def test_the_approver_sees_each_changed_term_old_to_new():
    promotion = promotion_create(terms=fixed_terms(total_limit=10), created_by=manager())
    changer = manager()
    promotion_change(
        promotion_id=promotion.pk,
        terms=fixed_terms(
            total_limit=None,
            region_codes=frozenset({"US"}),
            amounts={"USD": AmountTerms(amount_off=900)},
        ),
        changed_by=changer,
    )

    response = _page(approver(), promotion)

    assert response.status_code == 200
    [change] = response.context["changes"]
    assert change.actor == str(changer)
    assert "waits for approval" in change.outcome
    assert ("total limit", "10 → not set") in change.lines
    assert ("regions", "every region → US") in change.lines
    assert ("USD amount off / credit", "5.00 → 9.00") in change.lines
    assert ("JPY amount off / credit", "750 → not set") in change.lines
    text = response.content.decode()
    assert 'data-testid="promotion-changes"' in text
    assert 'data-term="total limit"' in text
    assert "10 → not set" in text
    assert 'data-testid="promotion-approve"' in text


def test_only_the_changes_since_the_last_approval_are_listed():
    promotion = promotion_create(terms=fixed_terms(total_limit=None), created_by=manager())
    promotion_change(
        promotion_id=promotion.pk,
        terms=fixed_terms(total_limit=None, name="A"),
        changed_by=manager(),
    )
    promotion_approve(promotion_id=promotion.pk, approved_by=approver())
    promotion_change(
        promotion_id=promotion.pk,
        terms=fixed_terms(total_limit=500, name="A"),
        changed_by=manager(),
    )

    response = _page(approver(), promotion)

    assert _rows(response) == [[("total limit", "not set → 500")]]


def test_a_promotion_never_changed_lists_no_changes():
    promotion = promotion_create(terms=fixed_terms(), created_by=manager())
    response = _page(approver(), promotion)
    assert response.context["changes"] == []
    assert 'data-testid="promotion-changes"' not in response.content.decode()


def test_waiting_for_me_leaves_out_what_i_changed_since_the_last_approval():
    from promotions.admin.promotions import PromotionAdmin
    from promotions.models import Promotion
    from tests.promotions.staff_users import APPROVE, MANAGE, promo_staff

    asker = promo_staff(*MANAGE, *APPROVE)
    fixer = promo_staff(*MANAGE, *APPROVE)
    someone = approver()
    promotion = promotion_create(terms=fixed_terms(total_limit=None), created_by=manager())
    promotion_change(
        promotion_id=promotion.pk, terms=fixed_terms(total_limit=None, amount=600), changed_by=asker
    )
    promotion_change(
        promotion_id=promotion.pk,
        terms=fixed_terms(total_limit=None, amount=600, name="Typo fixed"),
        changed_by=fixer,
    )
    model_admin = PromotionAdmin(Promotion, None)

    def waiting(user):
        request = type("Request", (), {"user": user})()
        return list(model_admin.waiting_for(request, Promotion.objects.all()))

    assert waiting(asker) == []
    assert waiting(fixer) == []
    assert waiting(someone) == [promotion]

    # Once approved, a new change by the fixer waits: the asker's earlier change is history.
    promotion_approve(promotion_id=promotion.pk, approved_by=someone)
    promotion_change(
        promotion_id=promotion.pk, terms=fixed_terms(total_limit=None, amount=700), changed_by=fixer
    )
    assert waiting(asker) == [promotion]
    assert waiting(fixer) == []


def test_a_promotion_waiting_for_the_rolling_total_says_so():
    from tests.promotions.test_staff_rolling import credit_terms

    staff = manager()
    promotion_create(terms=credit_terms("gift1"), created_by=staff)
    second = promotion_create(terms=credit_terms("gift2"), created_by=staff)

    response = _page(approver(), second)

    [reason] = response.context["approval_reasons"]
    assert "the same person made live alone in the last 24 hours" in reason
    assert "Within every threshold" not in response.content.decode()
