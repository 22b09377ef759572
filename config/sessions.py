"""Sessions kept in the database with a copy in the shared cache (Redis), read from the copy.

Every signed-in page reads its session: from the cache that is no database query (one fewer on
every page; the redeem POST's count, docs/interface.md §7). The database stays the record: a
session is written to both, and read from the database when the cache has no copy.

Django's `cached_db` store, made to keep working while the cache is unreachable (docs/interface.md
§9: other pages keep working): a failed read or copy falls back to the database alone (slower,
never a 500). Signing out is the one step that fails closed: the session's cached copy is
deleted first, and if that fails the error stands (the outage page, 503) with the session left
whole, so a signed-out session can never come back from a copy that was not deleted.
"""

import logging

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.backends import cached_db
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, OSError)


# The sign-in backends were renamed (accounts/auth_backends.py, issue 13). Django signs out a
# session naming a backend no longer in AUTHENTICATION_BACKENDS; listing the old ones again
# would check every failed sign-in's password twice. So a session signed in before names the
# new backend as it loads. Until two weeks (SESSION_COOKIE_AGE) after that deploy.
RENAMED_BACKENDS = {
    "django.contrib.auth.backends.ModelBackend": "accounts.auth_backends.ShopperModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend": (
        "accounts.auth_backends.ShopperAllauthBackend"
    ),
}


class SessionStore(cached_db.SessionStore):
    def load(self):
        try:
            # Django's own: the copy, else the database (a failed read counts as no copy) and
            # the copy written back, which is the step that raises while the cache is down.
            data = super().load()
        except CACHE_ERRORS:
            logger.warning("session cache unreachable: read from the database")
            data = super(cached_db.SessionStore, self).load()
        backend = data.get(BACKEND_SESSION_KEY)
        if backend in RENAMED_BACKENDS:
            data[BACKEND_SESSION_KEY] = RENAMED_BACKENDS[backend]
        return data

    def exists(self, session_key):
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except CACHE_ERRORS:
            logger.warning("session cache unreachable: existence asked of the database")
        return super(cached_db.SessionStore, self).exists(session_key)

    def delete(self, session_key=None):
        session_key = session_key or self.session_key
        if session_key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except CACHE_ERRORS:
            # A key changing at sign-in (`cycle_key`): the old key's copy holds no sign-in,
            # and a copy whose password or two-factor state changed fails Django's session
            # hash check. A sign-out does not get here with its copy: see `flush`.
            logger.warning("session cache unreachable: an old session's copy not deleted")
        super(cached_db.SessionStore, self).delete(session_key)

    def flush(self):
        """A sign-out (`signing_out_mark`) deletes the cached copy first; if that fails the
        error stands (the outage page) and nothing is ended, so the session cannot come back
        from it. Any other end of a session (Django ending one whose password or two-factor
        state changed) carries on without the cache: that copy fails the same check again."""
        if self.session_key is not None and getattr(self, "signing_out", False):
            self._cache.delete(self.cache_key_prefix + self.session_key)
        super().flush()


def signing_out_mark(sender, request, user, **kwargs):
    """`user_logged_out` receiver (Django sends it just before the session's flush): marks the
    session as ended by its owner, the one end that must not leave a cached copy behind."""
    session = getattr(request, "session", None)
    if session is not None:
        session.signing_out = True


def connect() -> None:
    """Wire the receiver (from AccountsConfig.ready)."""
    user_logged_out.connect(signing_out_mark, dispatch_uid="config_sessions_signing_out")
