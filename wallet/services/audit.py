"""The audit log of staff actions, and the permission check every staff action makes."""

from contextlib import contextmanager

from django.db import transaction

from wallet.exceptions import (
    OverLimit,
    SelfAction,
    SelfApproval,
    StaffPermissionDenied,
)
from wallet.models import (
    AuditEntry,
)

# The refusals that say something about the person trying (docs/interface.md §9): a missing
# permission, acting on their own account or request, an amount no one may move. Plain input
# mistakes (no reason given, a stale state) are not audited.
AUDITED_REFUSALS = (StaffPermissionDenied, SelfAction, SelfApproval, OverLimit)


def audit_record(*, actor, action: str, target: str, detail: str = "") -> AuditEntry:
    """Append an audit entry (append-only at the database). Call inside the action's
    transaction so the entry exists exactly when the action does."""
    return AuditEntry.objects.create(
        actor=actor, action=action, target=target[:100], detail=detail[:500]
    )


def audit_refusal_record(*, actor, target: str, detail: str) -> AuditEntry | None:
    """Record a refused staff attempt (`AuditEntry.Action.REFUSED`) in a transaction of its own.

    Call it after the refused action's transaction has rolled back (see `refusals_audited`),
    so that the rollback does not take the record with it. Nothing is recorded for an
    anonymous or unsaved actor (there is no one to name).
    """
    if actor is None or getattr(actor, "pk", None) is None:
        return None
    with transaction.atomic():
        return audit_record(
            actor=actor, action=AuditEntry.Action.REFUSED, target=target, detail=detail
        )


@contextmanager
def refusals_audited(*, actor, target: str, action: str):
    """Wrap a staff service's body: an `AUDITED_REFUSALS` error raised inside is recorded, then
    re-raised unchanged.

    Put it *outside* the service's `transaction.atomic()`: the exception leaves (and rolls
    back) the service's transaction first, and the refusal is then written on its own. A caller
    that wraps the service in a transaction of its own owns that record too.
    """
    try:
        yield
    except AUDITED_REFUSALS as error:
        audit_refusal_record(actor=actor, target=target, detail=f"{action}: {error}")
        raise


def require_perm(user, perm: str) -> None:
    """Raise `StaffPermissionDenied` unless `user` is active and holds `perm`."""
    if user is None or not user.is_active or not user.has_perm(perm):
        raise StaffPermissionDenied(f"you need the permission {perm!r} for this")
