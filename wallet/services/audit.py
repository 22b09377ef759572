"""The audit log of staff actions, and the permission check every staff action makes."""

from wallet.exceptions import (
    StaffPermissionDenied,
)
from wallet.models import (
    AuditEntry,
)


def audit_record(*, actor, action: str, target: str, detail: str = "") -> AuditEntry:
    """Append an audit entry (append-only at the database). Call inside the action's
    transaction so the entry exists exactly when the action does."""
    return AuditEntry.objects.create(
        actor=actor, action=action, target=target[:100], detail=detail[:500]
    )


def require_perm(user, perm: str) -> None:
    if user is None or not user.is_active or not user.has_perm(perm):
        raise StaffPermissionDenied(f"you need the permission {perm!r} for this")
