"""Limits on guessing claim codes (docs/interface.md §7 and §9), counted in the shared cache.

10 refused codes from one account, or 30 from one client address (`accounts.network.client_ip`),
within `REDEEM_WINDOW_SECONDS` lock further redemption for `REDEEM_LOCKOUT_SECONDS`.

Reserve, then check: an attempt takes its slot in both counters (an atomic INCR: on Redis one
script for the lock check and both counters, one to give them back; through the cache
API's `incr` on another backend) before its code is looked up; the refusal that takes the last
slot starts the lockout, and an attempt that finds no slot left is refused `locked` without any
look-up. However many guesses arrive at once, on however many processes sharing one Redis, at
most `limit` codes are evaluated per window. A redemption that succeeds gives its slot back, so
only refused codes use the limit up; an attempt arriving while every slot is held by attempts
still in flight waits briefly for one to come back (several cards redeemed at once all land).
Checking a lock before the guess and counting the failure after it, as before, let every guess
already in flight through: 16 of 20 parallel guesses were looked up against a limit of 10.

The counters are the limit itself: when the cache cannot be reached nothing can be counted,
so redemption is refused (`RedemptionUnavailable`, fail closed) instead of allowed unlimited.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from wallet.exceptions import CodeRefused

logger = logging.getLogger(__name__)

_PREFIX = "redeem-guess"
# What a cache backend raises when its server cannot be reached (Redis: ConnectionError and
# TimeoutError are RedisErrors; a socket failure of another backend is an OSError).
CACHE_ERRORS = (RedisError, OSError)
# IPv6 clients are counted per /64, the block one subscriber usually gets (allauth's sign-in
# limits do the same): otherwise one host could rotate through 2**64 addresses of its own.
_IPV6_PREFIX = 64
# How long an attempt that finds every slot taken waits for one to come back (polling every
# interval) before it is refused `locked`. Long enough for a few redemptions in flight to
# commit, short enough that a request never hangs on it.
SLOT_WAIT_SECONDS = 2.0
SLOT_WAIT_INTERVAL_SECONDS = 0.02


class RedemptionUnavailable(CodeRefused):
    """The shared cache is unreachable, so the attempt could not be counted: refused, nothing
    written (`data-reason="unavailable"`, HTTP 503)."""

    MESSAGES = {
        **CodeRefused.MESSAGES,
        "unavailable": "Gift card redemption is unavailable for a moment. Nothing was changed: "
        "please try again in a few minutes.",
    }

    def __init__(self):
        super().__init__("unavailable")


@dataclass(frozen=True)
class _Slot:
    scope: str
    limit: int
    number: int  # this attempt's place in the window's count, 1-based


@dataclass(frozen=True)
class Reservation:
    """The slots one attempt holds in its counters until it is refused or succeeds."""

    slots: tuple[_Slot, ...]


def _scopes(*, user_id: int, ip: str | None) -> list[tuple[str, int]]:
    scopes = [(f"user:{user_id}", settings.REDEEM_LIMIT_PER_USER)]
    if ip:
        scopes.append((f"ip:{_ip_scope(ip)}", settings.REDEEM_LIMIT_PER_IP))
    return scopes


def _ip_scope(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return ip


def _count_key(scope: str) -> str:
    return f"{_PREFIX}:count:{scope}"


def _lock_key(scope: str) -> str:
    return f"{_PREFIX}:lock:{scope}"


def _lock_value() -> int:
    # A lock holds the time it ends (Unix seconds), so the page can say how long is left: the
    # cache API has no portable "time to live".
    return int(time.time()) + settings.REDEEM_LOCKOUT_SECONDS


# On Redis the reservation is one script (one round trip instead of up to seven through the
# cache API): whether either scope is locked, then each counter's INCR, its window's expiry set
# when the INCR opened it (or when a DECR re-created it without one), stopping at the first
# counter past its limit, as `_take` does. Returns -1 when locked, else the numbers taken.
_RESERVE_LUA = """
local n = #KEYS / 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then return -1 end
end
local numbers = {}
for i = 1, n do
  local key = KEYS[n + i]
  local number = redis.call('INCR', key)
  if number == 1 or redis.call('TTL', key) == -1 then
    redis.call('EXPIRE', key, ARGV[1])
  end
  numbers[i] = number
  if number > tonumber(ARGV[1 + i]) then break end
end
return numbers
"""
_reserve_script = None

# Giving slots back, one script too: each counter's DECR, and a counter that DECR re-created
# after its window closed (below zero, without an expiry) dropped at once.
_RELEASE_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('DECR', key) < 0 then redis.call('DEL', key) end
end
return 0
"""
_release_script = None


def _redis():
    """The Redis client behind the shared cache, for the one-trip script and pipeline; None
    for another backend (a test's local memory), which goes through the cache API."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)  # kept, not built anew (config/cache.py)


def _take_all(client, scopes) -> list[_Slot] | None:
    """Every scope's slot in one script: None when a scope is locked."""
    global _reserve_script
    if _reserve_script is None:
        _reserve_script = client.register_script(_RESERVE_LUA)
    keys = [cache.make_key(_lock_key(scope)) for scope, _ in scopes]
    keys += [cache.make_key(_count_key(scope)) for scope, _ in scopes]
    numbers = _reserve_script(
        keys=keys,
        args=[settings.REDEEM_WINDOW_SECONDS, *(limit for _, limit in scopes)],
        client=client,
    )
    if numbers == -1:
        return None
    return [
        _Slot(scope=scope, limit=limit, number=int(number))
        for (scope, limit), number in zip(scopes, numbers, strict=False)
    ]


def redemption_attempt_reserve(*, user_id: int, ip: str | None) -> Reservation:
    """Take this attempt's slot in the account's and the address's counters, before any look-up.

    Raises `CodeRefused("locked")` while either is locked out, or when it still has no slot
    left after `SLOT_WAIT_SECONDS` (the attempt then holds none and evaluates no code, and the
    lockout starts), and `RedemptionUnavailable` when the cache cannot be reached. Hand the
    reservation to `redemption_attempt_refused` or `redemption_attempt_release` once the code
    has been answered.
    """
    scopes = _scopes(user_id=user_id, ip=ip)
    locks = [_lock_key(scope) for scope, _ in scopes]
    deadline = time.monotonic() + SLOT_WAIT_SECONDS
    while True:
        taken: list[_Slot] = []
        try:
            client = _redis()
            if client is not None:
                # One atomic script: if it fails, it took every slot or none (and a reply lost
                # on the way back leaves them taken until the window closes: stricter only).
                slots = _take_all(client, scopes)
                if slots is None:
                    raise CodeRefused("locked")
                taken = slots
            else:
                if cache.get_many(locks):
                    raise CodeRefused("locked")
                for scope, limit in scopes:
                    taken.append(_Slot(scope=scope, limit=limit, number=_take(scope)))
                    if taken[-1].number > limit:
                        break
        except CACHE_ERRORS as error:
            logger.warning("guessing limits: cache unreachable, redemption refused (%s)", error)
            _give_back_quietly(taken)
            raise RedemptionUnavailable from error
        full = [slot for slot in taken if slot.number > slot.limit]
        if not full:
            return Reservation(slots=tuple(taken))
        # Every slot is held by attempts still being answered. Refusals among them start the
        # lockout when the last one is refused; successes give their slots back within
        # moments (a shopper redeeming several cards at once). So wait a little for either,
        # holding no slot meanwhile; still full after that, the slots are the refusals'.
        _give_back_quietly(taken)
        if time.monotonic() >= deadline:
            try:
                cache.add(
                    _lock_key(full[0].scope), _lock_value(), timeout=settings.REDEEM_LOCKOUT_SECONDS
                )
            except CACHE_ERRORS:
                logger.warning("guessing limits: cache unreachable while starting a lockout")
            raise CodeRefused("locked")
        time.sleep(SLOT_WAIT_INTERVAL_SECONDS)


def _take(scope: str) -> int:
    """This attempt's number in the scope's window (atomic `incr`; `add` opens the window)."""
    key = _count_key(scope)
    for _ in range(3):
        cache.add(key, 0, timeout=settings.REDEEM_WINDOW_SECONDS)
        try:
            number = cache.incr(key)
        except ValueError:  # the window closed between add and incr: open the next one
            continue
        if number == 1:
            # The first slot of a window. Redis's INCR re-creates a key that expired between
            # the backend's existence check and the INCR, without an expiry: set one, so a
            # counter can never outlive its window.
            cache.touch(key, timeout=settings.REDEEM_WINDOW_SECONDS)
        return number
    raise RedisError("the guessing counter kept expiring while it was being taken")


def _give_back_quietly(slots) -> None:
    if not slots:
        return
    try:
        client = _redis()
    except CACHE_ERRORS:
        client = None
    if client is not None:
        global _release_script
        try:
            if _release_script is None:
                _release_script = client.register_script(_RELEASE_LUA)
            keys = [cache.make_key(_count_key(slot.scope)) for slot in slots]
            _release_script(keys=keys, client=client)
        except CACHE_ERRORS:
            # The slots stay taken until their window closes: stricter, never looser.
            logger.warning("guessing limits: cache unreachable, a slot was not given back")
        return
    for slot in slots:
        key = _count_key(slot.scope)
        try:
            if cache.decr(key) < 0:  # re-created by DECR after its window closed: drop it
                cache.delete(key)
        except ValueError:  # the window closed meanwhile: nothing is counted any more
            pass
        except CACHE_ERRORS:
            # The slot stays taken until its window closes: stricter, never looser.
            logger.warning("guessing limits: cache unreachable, a slot was not given back")


def redemption_attempt_refused(reservation: Reservation) -> None:
    """The reserved attempt's code was refused: its slot stays taken until the window closes,
    and the attempt that took a counter's last slot starts the lockout at once."""
    for slot in reservation.slots:
        if slot.number >= slot.limit:
            try:
                cache.add(
                    _lock_key(slot.scope), _lock_value(), timeout=settings.REDEEM_LOCKOUT_SECONDS
                )
            except CACHE_ERRORS:
                # The counter already holds the last slot: the next attempt finds none left
                # and starts the lockout then. The refusal itself stands either way.
                logger.warning("guessing limits: cache unreachable while starting a lockout")


def redemption_attempt_release(reservation: Reservation) -> None:
    """The reserved attempt redeemed its card: give its slots back (a success is no guess).
    A cache failure here is logged, never raised: the redemption has already committed."""
    _give_back_quietly(reservation.slots)


def redemption_is_locked(*, user_id: int, ip: str | None) -> bool:
    """Whether this account or address is locked out of redeeming codes right now."""
    keys = [_lock_key(scope) for scope, _ in _scopes(user_id=user_id, ip=ip)]
    return bool(cache.get_many(keys))


def redemption_failure_count(*, user_id: int, ip: str | None = None) -> dict[str, int]:
    """The slots taken in the current window, per scope: the refused codes, plus any attempt
    still being answered (for tests and staff)."""
    return {scope: cache.get(_count_key(scope), 0) for scope, _ in _scopes(user_id=user_id, ip=ip)}


def redemption_lock_seconds_left(*, user_id: int, ip: str | None) -> int:
    """How many seconds this account or address stays locked out (0 when it is not locked).
    Raises the cache's error when it cannot be reached (`CACHE_ERRORS`)."""
    keys = [_lock_key(scope) for scope, _ in _scopes(user_id=user_id, ip=ip)]
    ends = cache.get_many(keys).values()
    if not ends:
        return 0
    now = int(time.time())
    # A lock written before locks held their end time (the value 1): say the whole lockout.
    left = [end - now if end > 1 else settings.REDEEM_LOCKOUT_SECONDS for end in ends]
    return max(1, *left)


def redemption_attempts_left(*, user_id: int, ip: str | None) -> int:
    """How many more refused codes the account and the address may make in this window before
    redemption locks (the smaller of the two). Raises the cache's error when it cannot be
    reached (`CACHE_ERRORS`)."""
    scopes = _scopes(user_id=user_id, ip=ip)
    counts = cache.get_many([_count_key(scope) for scope, _ in scopes])
    return max(0, min(limit - counts.get(_count_key(scope), 0) for scope, limit in scopes))
