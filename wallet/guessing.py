"""Limits on guessing claim codes (CONTRACT §7), counted in the shared cache.

10 refused codes from one account, or 30 from one IP address, within a 10-minute window lock
further redemption for 30 minutes. Counters use the cache's atomic `add` + `incr`, so guesses
made in parallel, on any number of server processes sharing one Redis, are all counted.
"""

from django.conf import settings
from django.core.cache import cache

_PREFIX = "redeem-guess"


def _scopes(*, user_id: int, ip: str | None) -> list[tuple[str, int]]:
    scopes = [(f"user:{user_id}", settings.REDEEM_LIMIT_PER_USER)]
    if ip:
        scopes.append((f"ip:{ip}", settings.REDEEM_LIMIT_PER_IP))
    return scopes


def redemption_is_locked(*, user_id: int, ip: str | None) -> bool:
    """Whether this account or address is locked out of redeeming codes right now."""
    keys = [f"{_PREFIX}:lock:{scope}" for scope, _ in _scopes(user_id=user_id, ip=ip)]
    return bool(cache.get_many(keys))


def redemption_failure_record(*, user_id: int, ip: str | None) -> None:
    """Count one refused code against the account and the address; lock either at its limit."""
    for scope, limit in _scopes(user_id=user_id, ip=ip):
        counter = f"{_PREFIX}:count:{scope}"
        # `add` only creates the counter (and starts its window); `incr` is atomic.
        cache.add(counter, 0, timeout=settings.REDEEM_WINDOW_SECONDS)
        try:
            failures = cache.incr(counter)
        except ValueError:  # the window expired between add and incr: start a new one
            cache.add(counter, 1, timeout=settings.REDEEM_WINDOW_SECONDS)
            failures = 1
        if failures >= limit:
            cache.set(f"{_PREFIX}:lock:{scope}", 1, timeout=settings.REDEEM_LOCKOUT_SECONDS)


def redemption_failure_count(*, user_id: int, ip: str | None = None) -> dict[str, int]:
    """The refused codes counted in the current window, per scope (for tests and staff)."""
    return {
        scope: cache.get(f"{_PREFIX}:count:{scope}", 0)
        for scope, _ in _scopes(user_id=user_id, ip=ip)
    }
