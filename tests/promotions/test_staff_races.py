"""Races of the staff side of promotions, on PostgreSQL with real threads (they FAIL, never
skip, on SQLite).

- Ten approvers at once approve a waiting promotion once: one approval, one audit entry.
- A change racing an approval: the approver approves only the terms they were shown; whatever
  the order, the promotion is never active with terms nobody approved.
- Ten creations at once by one person, each just under the threshold: exactly one goes live
  alone, nine wait (the person's user row lock serialises the measure of the rolling total).
"""

import pytest

from promotions.models import Promotion
from promotions.services import promotion_approve, promotion_change, promotion_create
from promotions.services.staff import APPROVED
from tests.promotions.staff_users import approver, manager, percent_terms
from tests.promotions.test_staff_rolling import credit_terms
from tests.wallet.test_races import run_together
from wallet.exceptions import InvalidState
from wallet.models import AuditEntry

THREADS = 10
ROUNDS = 2  # each race twice over (make test stays well under its time)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_ten_approvers_at_once_approve_once(round_):
    promotion = promotion_create(terms=percent_terms(f"race{round_}"), created_by=manager())
    approvers = [approver() for _ in range(THREADS)]

    outcomes = run_together(
        [
            lambda who=who: promotion_approve(promotion_id=promotion.pk, approved_by=who)
            for who in approvers
        ]
    )

    won = [o for o in outcomes if o.error is None]
    assert len(won) == 1
    assert all(isinstance(o.error, InvalidState) for o in outcomes if o.error is not None)
    promotion.refresh_from_db()
    assert promotion.status == Promotion.Status.ACTIVE
    assert promotion.approved_by == won[0].value.approved_by
    assert AuditEntry.objects.filter(action=APPROVED).count() == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_an_approval_racing_a_change_never_makes_unapproved_terms_live(round_):
    promotion = promotion_create(terms=percent_terms(f"race{round_}"), created_by=manager())
    shown = promotion.updated_at
    second = approver()

    outcomes = run_together(
        [
            lambda: promotion_approve(
                promotion_id=promotion.pk, approved_by=second, seen_updated_at=shown
            ),
            lambda: promotion_change(
                promotion_id=promotion.pk,
                terms=percent_terms(f"race{round_}", percent=90),
                changed_by=manager(),
            ),
        ]
    )

    approve, change = outcomes
    assert change.error is None
    promotion.refresh_from_db()
    assert promotion.percent == 90
    # The change came last (approval of the old terms, then back to waiting) or first (the
    # approval of what was shown is refused): either way 90% waits for someone to approve it.
    assert promotion.status == Promotion.Status.PENDING_APPROVAL
    assert promotion.approved_by is None
    assert approve.error is None or isinstance(approve.error, InvalidState)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_ten_just_under_the_threshold_at_once_by_one_person_one_goes_live_alone(round_):
    staff = manager()

    outcomes = run_together(
        [
            lambda i=i: promotion_create(terms=credit_terms(f"gift{round_}x{i}"), created_by=staff)
            for i in range(THREADS)
        ]
    )

    assert [o.error for o in outcomes] == [None] * THREADS
    statuses = sorted(Promotion.objects.values_list("status", flat=True))
    assert statuses == [Promotion.Status.ACTIVE] + [Promotion.Status.PENDING_APPROVAL] * 9
