"""Staff creating, changing, approving, rejecting and disabling promotions (the admin).

The two-person rule (promotions/approval.py): a promotion worth more than
`PROMOTION_APPROVAL_MAX_VALUE` in a currency where it is offered — or with no bound at all —
is created, or put back by a change, `pending_approval`: shoppers cannot use it (the engine
answers `not_found`) until a second staff member with `promotions.approve_promotion` approves
it. What the same person made live alone in the last 24 hours counts with it (measured under
their user row lock, so parallel requests queue). Nobody approves a promotion they created,
last changed, or changed since it was last approved. A change of the wording alone (name,
description) keeps the promotion as it is. Each change's audit entry lists what it changed,
old → new (promotions/changes.py), for the approver to read.

Each service checks its own permission, writes an audit entry in the same transaction as the
change, and has its audited refusals (no permission, approving one's own) recorded on their
own (`wallet.services.audit.refusals_audited`). Every change to a promotion takes its row lock
first (`promotions.locks`, the promotion-usage level of the global lock order), so orders
counting a use wait for it and see the terms before or after it, never half of them.
"""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.locks import user_qs_select_for_update
from promotions.approval import (
    PromotionTerms,
    promotion_approval_reasons,
    promotion_terms_of,
    promotion_too_large,
    promotions_alone_totals,
    terms_differ_beyond_wording,
)
from promotions.changes import promotion_changes, promotion_changes_text
from promotions.codes import promo_code_hash
from promotions.locks import promotion_qs_select_for_update
from promotions.models import Promotion, PromotionAmount, PromotionCode
from promotions.terms import PromotionTermsInvalid, promotion_terms_validate
from wallet.exceptions import InvalidState, NotFound, OverLimit, SelfApproval, WalletError
from wallet.models import AuditEntry
from wallet.services.audit import audit_record, refusals_audited, require_perm

__all__ = [
    "AUDIT_ACTIONS",
    "promotion_approve",
    "promotion_change",
    "promotion_create",
    "promotion_disable",
    "promotion_reject",
    "promotion_requested_by",
    "promotion_requesters",
]

_A = AuditEntry.Action
CREATED, CHANGED = _A.PROMOTION_CREATED, _A.PROMOTION_CHANGED
APPROVED, REJECTED, DISABLED = _A.PROMOTION_APPROVED, _A.PROMOTION_REJECTED, _A.PROMOTION_DISABLED
# The audit actions of this module (AuditEntry.action values).
AUDIT_ACTIONS = (CREATED, CHANGED, APPROVED, REJECTED, DISABLED)

Status = Promotion.Status
# The scalar fields staff set (the relations and amounts are written apart).
_FIELDS = (
    "slug",
    "name",
    "description",
    "kind",
    "target",
    "codes",
    "code",
    "percent",
    "buy_quantity",
    "get_quantity",
    "credit_days",
    "starts_on",
    "ends_on",
    "first_order_only",
    "per_shopper_limit",
    "total_limit",
    "exclusive",
)


def _target(promotion_id) -> str:
    return f"promotion #{promotion_id}"


def _refuse_too_large(terms: PromotionTerms) -> None:
    reason = promotion_too_large(terms)
    if reason is not None:
        raise OverLimit(reason)


def _status_after(terms: PromotionTerms, *, person, promotion_id=None) -> tuple[str, str]:
    """The status new terms get from `person`; call under the person's user row lock."""
    alone = promotions_alone_totals(person=person, exclude_id=promotion_id)
    reasons = promotion_approval_reasons(terms, alone=alone)
    if reasons:
        return Status.PENDING_APPROVAL, "waits for approval (" + "; ".join(reasons) + ")"
    return Status.ACTIVE, "active"


def _person_lock(person) -> None:
    """Lock the staff member's user row (first in the global lock order): one person's
    requests measure what they made live alone one at a time."""
    user_qs_select_for_update(user_id=person.pk).get()


def promotion_create(*, terms: PromotionTerms, created_by) -> Promotion:
    """Create a promotion: active at once when it is worth little, else `pending_approval`.
    A vanity promotion gets its code row (hashed, as every code is looked up).

    Raises `StaffPermissionDenied` without `promotions.add_promotion` and `OverLimit` for a
    promotion worth more than 1,000 times the threshold (both audited), `PromotionTermsInvalid`
    for terms that cannot make a promotion; nothing is written then.
    """
    with refusals_audited(actor=created_by, target="new promotion", action="creating"):
        require_perm(created_by, "promotions.add_promotion")
        promotion_terms_validate(terms)
        _refuse_too_large(terms)
        try:
            with transaction.atomic():
                _person_lock(created_by)
                status, outcome = _status_after(terms, person=created_by)
                promotion = Promotion(created_by=created_by, status=status)
                if status == Status.ACTIVE:
                    # Live alone from now: counts in the creator's next 24 hours.
                    promotion.approved_at = timezone.now()
                for name in _FIELDS:
                    setattr(promotion, name, getattr(terms, name))
                promotion.save()
                _relations_write(promotion, terms)
                _amounts_write(promotion, terms)
                if terms.codes == Promotion.Codes.VANITY:
                    PromotionCode.objects.create(
                        promotion=promotion,
                        code_hash=promo_code_hash(terms.code),
                        last4=terms.code[-4:],
                    )
                audit_record(
                    actor=created_by,
                    action=CREATED,
                    target=_target(promotion.pk),
                    detail=f"{terms.slug}: {outcome}",
                )
        except IntegrityError:
            # Another staff member took the slug or the code between the check and the write.
            raise PromotionTermsInvalid("slug or code: another promotion has it") from None
    return promotion


def promotion_change(
    *,
    promotion_id: int,
    terms: PromotionTerms,
    changed_by,
    seen_updated_at: datetime.datetime | None = None,
) -> Promotion:
    """Change a promotion's terms. A change beyond its wording goes back `pending_approval`
    when the new terms are worth more than the threshold (its earlier approval was for other
    terms), else it is active; a disabled promotion stays disabled. Its usage (uses, budget
    used) is never written here. `seen_updated_at`: the version the form was opened at; a
    promotion changed since is refused rather than overwritten.

    Raises `StaffPermissionDenied` and `OverLimit` (worth more than 1,000 times the
    threshold; both audited), `NotFound`, `InvalidState` (changed meanwhile),
    `PromotionTermsInvalid` (also for a limit or budget below what was already used).
    """
    with refusals_audited(actor=changed_by, target=_target(promotion_id), action="changing"):
        require_perm(changed_by, "promotions.change_promotion")
        _refuse_too_large(terms)
        with transaction.atomic():
            _person_lock(changed_by)
            promotion = _locked(promotion_id)
            if seen_updated_at is not None and promotion.updated_at != seen_updated_at:
                raise InvalidState("someone changed this promotion since you opened it")
            promotion_terms_validate(terms, promotion=promotion)
            old = promotion_terms_of(promotion)
            if terms.total_limit is not None and terms.total_limit < promotion.uses_count:
                raise PromotionTermsInvalid(
                    f"total limit: it was already used {promotion.uses_count} times"
                )
            if terms_differ_beyond_wording(old, terms):
                status, outcome = _status_after(terms, person=changed_by, promotion_id=promotion.pk)
                if promotion.status == Status.DISABLED:
                    status, outcome = Status.DISABLED, "stays disabled"
                promotion.status = status
                if status == Status.ACTIVE:
                    # Live alone from now: counts in the changer's next 24 hours.
                    promotion.approved_at = timezone.now()
                elif promotion.approved_by_id is not None:
                    promotion.approved_at = None
                # Else it went live alone at `approved_at` and keeps it: what it gave since
                # still counts in its creator's and changers' day (promotions/approval.py).
                promotion.approved_by = None
            else:
                outcome = f"wording only, stays {promotion.get_status_display().lower()}"
            promotion.changed_by = changed_by
            for name in _FIELDS:
                setattr(promotion, name, getattr(terms, name))
            promotion.save(
                update_fields=[
                    *_FIELDS,
                    "status",
                    "approved_by",
                    "approved_at",
                    "changed_by",
                    "updated_at",
                ]
            )
            _relations_write(promotion, terms)
            _amounts_write(promotion, terms)
            audit_record(
                actor=changed_by,
                action=CHANGED,
                target=_target(promotion.pk),
                detail=promotion_changes_text(
                    f"{terms.slug}: {outcome}", promotion_changes(old, terms)
                ),
            )
    return promotion


def promotion_requested_by(*, promotion: Promotion) -> int | None:
    """Who asked for the promotion's current terms: whoever last changed it, else its
    creator."""
    return promotion.changed_by_id or promotion.created_by_id


def promotion_requesters(*, promotion: Promotion) -> set[int]:
    """Everyone who may not approve the promotion: its creator, its last changer, and anyone
    who changed it since it was last approved (a wording fix by someone else after your change
    does not make your terms someone else's). Audit actions and actors only, never its text."""
    target = _target(promotion.pk)
    last_approval = (
        AuditEntry.objects.filter(target=target, action=APPROVED)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    changers = AuditEntry.objects.filter(target=target, action=CHANGED)
    if last_approval is not None:
        changers = changers.filter(id__gt=last_approval)
    people = {promotion.created_by_id, promotion.changed_by_id}
    people.update(changers.values_list("actor_id", flat=True))
    return people - {None}


def promotion_approve(
    *, promotion_id: int, approved_by, seen_updated_at: datetime.datetime | None = None
) -> Promotion:
    """Approve a promotion waiting for approval: it becomes active. `seen_updated_at`: the
    version the approver was shown; terms changed since are refused (approve what you saw).

    Raises `StaffPermissionDenied` without `promotions.approve_promotion` and `SelfApproval`
    for its creator or whoever asked for its current terms (both audited); `NotFound`;
    `InvalidState` unless it is waiting, or when it changed since it was shown.
    """
    with refusals_audited(actor=approved_by, target=_target(promotion_id), action="approving"):
        require_perm(approved_by, "promotions.approve_promotion")
        with transaction.atomic():
            promotion = _locked(promotion_id)
            if approved_by.pk in promotion_requesters(promotion=promotion):
                raise SelfApproval(
                    "you created or changed this promotion: another staff member must approve it"
                )
            if promotion.status != Status.PENDING_APPROVAL:
                raise InvalidState(f"the promotion is {promotion.get_status_display().lower()}")
            if seen_updated_at is not None and promotion.updated_at != seen_updated_at:
                raise InvalidState("the promotion changed since you opened it: look again")
            promotion.status = Status.ACTIVE
            promotion.approved_by, promotion.approved_at = approved_by, timezone.now()
            promotion.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
            audit_record(actor=approved_by, action=APPROVED, target=_target(promotion.pk))
    return promotion


def promotion_reject(*, promotion_id: int, rejected_by, reason: str) -> Promotion:
    """Turn down a promotion waiting for approval (whoever asked for it may withdraw it).

    Raises `WalletError` without a reason, `StaffPermissionDenied` (audited), `NotFound`,
    `InvalidState` unless it is waiting.
    """
    if not reason.strip():
        raise WalletError("say why the promotion is rejected")
    with (
        refusals_audited(actor=rejected_by, target=_target(promotion_id), action="rejecting"),
        transaction.atomic(),
    ):
        promotion = _locked(promotion_id)
        if rejected_by.pk != promotion_requested_by(promotion=promotion):
            require_perm(rejected_by, "promotions.approve_promotion")
        if promotion.status != Status.PENDING_APPROVAL:
            raise InvalidState(f"the promotion is {promotion.get_status_display().lower()}")
        promotion.status = Status.REJECTED
        promotion.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=rejected_by, action=REJECTED, target=_target(promotion.pk), detail=reason
        )
    return promotion


def promotion_disable(*, promotion_id: int, disabled_by, reason: str) -> Promotion:
    """Stop a promotion (active or waiting): shoppers' codes answer `not_found` from now on;
    orders already placed keep their discount. Lowers what can be given, so no approval.

    Raises `WalletError` without a reason, `StaffPermissionDenied` without
    `promotions.change_promotion` (audited), `NotFound`, `InvalidState` when already stopped.
    """
    if not reason.strip():
        raise WalletError("say why the promotion is disabled")
    with refusals_audited(actor=disabled_by, target=_target(promotion_id), action="disabling"):
        require_perm(disabled_by, "promotions.change_promotion")
        with transaction.atomic():
            promotion = _locked(promotion_id)
            if promotion.status not in (Status.ACTIVE, Status.PENDING_APPROVAL):
                raise InvalidState(f"the promotion is {promotion.get_status_display().lower()}")
            promotion.status = Status.DISABLED
            promotion.save(update_fields=["status", "updated_at"])
            audit_record(
                actor=disabled_by, action=DISABLED, target=_target(promotion.pk), detail=reason
            )
    return promotion


# The largest primary key a BIGINT holds: an id beyond it (a hand-made URL) names nothing, and
# the database would refuse it as a parameter rather than find no row.
_MAX_ID = 2**63 - 1


def _locked(promotion_id: int) -> Promotion:
    if not 0 < promotion_id <= _MAX_ID:
        raise NotFound(f"there is no promotion #{promotion_id}")
    promotion = promotion_qs_select_for_update(promotion_ids=[promotion_id]).first()
    if promotion is None:
        raise NotFound(f"there is no promotion #{promotion_id}")
    return promotion


def _relations_write(promotion: Promotion, terms: PromotionTerms) -> None:
    promotion.categories.set(sorted(terms.category_ids))
    promotion.products.set(sorted(terms.product_ids))
    promotion.regions.set(sorted(terms.region_codes))
    # Symmetrical: setting this side writes both rows of each pair.
    promotion.not_combinable_with.set(sorted(terms.not_combinable_with))


def _amounts_write(promotion: Promotion, terms: PromotionTerms) -> None:
    """Write the amounts per currency, never `budget_used`. The amount rows are written under
    the promotion's row lock, which every order locking them holds first (docs/ledger.md), so
    the guarded budget update below cannot race an order's trim."""
    rows = {row.currency: row for row in promotion.amounts.all()}
    for currency, amounts in sorted(terms.amounts.items()):
        values = {
            "amount_off": amounts.amount_off,
            "minimum_subtotal": amounts.minimum_subtotal,
            "cap": amounts.cap,
            "budget": amounts.budget,
        }
        row = rows.pop(currency, None)
        if row is None:
            PromotionAmount.objects.create(promotion=promotion, currency=currency, **values)
            continue
        if amounts.budget is not None and amounts.budget < row.budget_used:
            raise PromotionTermsInvalid(
                f"budget ({currency}): {row.budget_used} minor units were already given"
            )
        PromotionAmount.objects.filter(pk=row.pk).update(**values)
    for row in rows.values():  # currencies no longer set
        if row.budget_used:
            # What was given stays on record: the amounts go, the row and its usage stay.
            PromotionAmount.objects.filter(pk=row.pk).update(
                amount_off=None, minimum_subtotal=None, cap=None, budget=None
            )
        else:
            row.delete()
