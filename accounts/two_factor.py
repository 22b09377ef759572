"""How two-factor state reaches an account's sessions (docs/interface.md §9).

Two facts live here, both kept without an extra query on each request:

- Turning an authenticator app on or off ends every other session of the account. Django
  already does this for a password change (the session keeps an HMAC of the password hash and
  AuthenticationMiddleware drops a session whose HMAC no longer matches). `User.session_epoch`
  joins that HMAC and moves on in the same transaction that adds or deletes the TOTP row, so
  the sessions signed in before it end; the request that made the change keeps its own.
- A session remembers that it proved the second factor, and under which epoch. allauth's own
  log of how a session authenticated (`account_authentication_methods`) outlives the turning
  off of two-factor, so it cannot say "two-factor is on and this session used it"; the epoch
  can: any TOTP change since moves the epoch and the mark no longer matches.
"""

from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import update_session_auth_hash
from django.db.models import F
from django.db.models.signals import post_delete, post_save

from accounts.models import User

SESSION_KEY = "accounts_two_factor"
# The factors a sign-in or reauthentication can prove the second step with (no passkeys here).
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES)


def user_session_epoch_bump(*, user_id: int) -> int:
    """Move the account to its next session epoch and return it.

    Every session signed in under an earlier epoch fails Django's session check on its next
    request. Call it inside the transaction that changes the account's second factor.
    """
    User.objects.filter(pk=user_id).update(session_epoch=F("session_epoch") + 1)
    return User.objects.filter(pk=user_id).values_list("session_epoch", flat=True).get()


def session_two_factor_mark(request, user: User) -> None:
    """Record that this session proved `user`'s second factor under their current epoch."""
    request.session[SESSION_KEY] = [str(user.pk), user.session_epoch]


def session_has_two_factor(request) -> bool:
    """Whether this session proved the signed-in user's second factor since two-factor last
    changed (so two-factor is on: the mark is only made while a TOTP exists)."""
    user = request.user
    return request.session.get(SESSION_KEY) == [str(user.pk), user.session_epoch]


def _epoch_bump_for(authenticator: Authenticator) -> None:
    epoch = user_session_epoch_bump(user_id=authenticator.user_id)
    # The caller's user object (allauth passes request.user) must carry the new epoch, or the
    # hash it stores for the current session would be the old one.
    if Authenticator.user.is_cached(authenticator):
        authenticator.user.session_epoch = epoch


def _on_authenticator_saved(sender, instance, created, **kwargs) -> None:
    if created and instance.type == Authenticator.Type.TOTP:
        _epoch_bump_for(instance)


def _on_authenticator_deleted(sender, instance, **kwargs) -> None:
    # Any way of deleting (allauth's page, the admin, a queryset) sends this signal.
    if instance.type == Authenticator.Type.TOTP:
        _epoch_bump_for(instance)


def _keep_this_session(request, authenticator) -> bool:
    """After a TOTP change, store the new HMAC in the session that made it; False when the
    signal came without a signed-in request (a script, the admin of another account)."""
    if request is None or authenticator.type != Authenticator.Type.TOTP:
        return False
    user = request.user
    if not user.is_authenticated or user.pk != authenticator.user_id:
        return False
    user.refresh_from_db(fields=["session_epoch"])
    update_session_auth_hash(request, user)
    return True


def _on_authenticator_added(sender, request, user, authenticator, **kwargs) -> None:
    # Activating asks for the password again and for a code from the new app: this session has
    # just proved both factors, so it may go on to the admin.
    if _keep_this_session(request, authenticator):
        session_two_factor_mark(request, request.user)


def _on_authenticator_removed(sender, request, user, authenticator, **kwargs) -> None:
    _keep_this_session(request, authenticator)


def _on_authenticator_used(sender, request, user, authenticator, **kwargs) -> None:
    if request is None or authenticator.type not in SECOND_FACTORS:
        return
    # Recovery codes left over after the TOTP row was deleted elsewhere prove nothing.
    if Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists():
        session_two_factor_mark(request, user)


def connect() -> None:
    """Wire the receivers (from AccountsConfig.ready)."""
    post_save.connect(_on_authenticator_saved, sender=Authenticator, dispatch_uid="accounts_2fa_s")
    post_delete.connect(
        _on_authenticator_deleted, sender=Authenticator, dispatch_uid="accounts_2fa_d"
    )
    mfa_signals.authenticator_added.connect(_on_authenticator_added, dispatch_uid="accounts_2fa_a")
    mfa_signals.authenticator_removed.connect(
        _on_authenticator_removed, dispatch_uid="accounts_2fa_r"
    )
    mfa_signals.authenticator_used.connect(_on_authenticator_used, dispatch_uid="accounts_2fa_u")
