"""wallet/guessing.py: reserve, then check (a slot is taken before any look-up, a success gives it
back), and fail closed when the shared cache cannot be reached (docs/interface.md §7, §9)."""

import threading
import time

import pytest
from django.core.cache import cache, caches
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError

import wallet.services.giftcards as giftcards_module
from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from wallet import guessing
from wallet.codes import check_symbol
from wallet.exceptions import CodeRefused
from wallet.guessing import RedemptionUnavailable
from wallet.models import GiftCard
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_redeem

pytestmark = pytest.mark.django_db

UNKNOWN_CODE = "00000000000001" + check_symbol("00000000000001")  # well formed, never issued


@pytest.fixture
def lookups(monkeypatch):
    """How many times a code was looked up in the card table (every thread counted)."""
    counted = {"n": 0}
    guard = threading.Lock()
    real = giftcards_module.redemption_rows_select_for_update

    def counting(**kwargs):
        with guard:
            counted["n"] += 1
        return real(**kwargs)

    monkeypatch.setattr(giftcards_module, "redemption_rows_select_for_update", counting)
    return counted


def _reason(**kwargs) -> str:
    try:
        giftcard_redeem(**kwargs)
    except CodeRefused as refusal:
        return refusal.reason
    return "redeemed"


# --- reserve, then check --------------------------------------------------------------------


def test_fifteen_wrong_guesses_look_up_ten_codes(user, lookups):
    reasons = [_reason(user=user, code=UNKNOWN_CODE, ip="192.0.2.1") for _ in range(15)]

    assert reasons == ["not_found"] * 10 + ["locked"] * 5
    assert lookups["n"] == 10


def test_a_locked_attempt_touches_no_database(user, django_assert_num_queries):
    for _ in range(10):
        _reason(user=user, code=UNKNOWN_CODE)
    issued = issue_card()

    with django_assert_num_queries(0):
        assert _reason(user=user, code=issued.code) == "locked"


@pytest.fixture
def short_wait(monkeypatch):
    monkeypatch.setattr(guessing, "SLOT_WAIT_SECONDS", 0.2)


def test_attempts_still_being_answered_hold_their_slots(user, lookups, short_wait):
    """The interleaving that beat the old check-then-count: ten guesses are in flight (slots
    taken, codes not yet answered) when the eleventh arrives. It is refused without a look-up."""
    in_flight = [guessing.redemption_attempt_reserve(user_id=user.pk, ip=None) for _ in range(10)]

    assert _reason(user=user, code=UNKNOWN_CODE) == "locked"

    assert lookups["n"] == 0
    assert guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"] == 10
    # Still full after the wait: the slots are taken for good, the lockout starts.
    assert guessing.redemption_is_locked(user_id=user.pk, ip=None)
    assert len(in_flight) == 10


def test_an_attempt_waits_for_a_slot_that_a_success_gives_back(user, lookups):
    """Ten redemptions in flight and an eleventh card: it waits, and lands once one of them
    commits and hands its slot back. No lockout: no code was refused."""
    in_flight = [guessing.redemption_attempt_reserve(user_id=user.pk, ip=None) for _ in range(10)]
    release = threading.Timer(0.3, guessing.redemption_attempt_release, args=[in_flight[0]])
    release.start()

    started = time.monotonic()
    assert _reason(user=user, code=issue_card().code) == "redeemed"

    release.join()
    assert 0.25 < time.monotonic() - started < guessing.SLOT_WAIT_SECONDS
    assert lookups["n"] == 1
    assert not guessing.redemption_is_locked(user_id=user.pk, ip=None)


def test_an_address_with_no_slot_left_gives_the_accounts_slot_back():
    ip = "203.0.113.7"
    for _ in range(30):
        _reason(user=UserFactory(), code=UNKNOWN_CODE, ip=ip)
    newcomer = UserFactory()

    assert _reason(user=newcomer, code=UNKNOWN_CODE, ip=ip) == "locked"

    assert guessing.redemption_failure_count(user_id=newcomer.pk, ip=ip) == {
        f"user:{newcomer.pk}": 0,
        f"ip:{ip}": 30,
    }


def test_a_success_gives_its_slot_back(user):
    for _ in range(9):
        _reason(user=user, code=UNKNOWN_CODE)
    for _ in range(3):  # three cards in a row: each success hands its slot back
        assert _reason(user=user, code=issue_card().code) == "redeemed"
    assert guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"] == 9

    assert _reason(user=user, code=UNKNOWN_CODE) == "not_found"  # the tenth refusal
    assert _reason(user=user, code=issue_card().code) == "locked"
    assert wallet_balance_get(user=user).amount == 3 * 2500


def test_the_lockout_starts_at_the_refusal_that_took_the_last_slot(user):
    for _ in range(9):
        _reason(user=user, code=UNKNOWN_CODE)
    assert not guessing.redemption_is_locked(user_id=user.pk, ip=None)

    _reason(user=user, code=UNKNOWN_CODE)

    assert guessing.redemption_is_locked(user_id=user.pk, ip=None)


@override_settings(REDEEM_LIMIT_PER_USER=2, REDEEM_LOCKOUT_SECONDS=1, REDEEM_WINDOW_SECONDS=1)
def test_attempts_while_locked_do_not_extend_the_lockout(user):
    _reason(user=user, code=UNKNOWN_CODE)
    _reason(user=user, code=UNKNOWN_CODE)  # the lockout starts: 1 s
    deadline = time.monotonic() + 0.7
    while time.monotonic() < deadline:
        assert _reason(user=user, code=UNKNOWN_CODE) == "locked"
        time.sleep(0.05)
    time.sleep(0.5)

    assert _reason(user=user, code=issue_card().code) == "redeemed"


def test_ipv6_clients_are_counted_per_64_block():
    for n in range(30):
        _reason(user=UserFactory(), code=UNKNOWN_CODE, ip=f"2001:db8:1:2::{n + 1:x}")

    assert _reason(user=UserFactory(), code=UNKNOWN_CODE, ip="2001:db8:1:2:ffff::9") == "locked"
    assert _reason(user=UserFactory(), code=issue_card().code, ip="2001:db8:1:3::1") == "redeemed"


@pytest.fixture
def cache_api(monkeypatch):
    """The reservation through the cache API (`add`, `incr`, `decr`), as on a backend other
    than Redis: on Redis it is one atomic script, which cannot stop half-way."""
    monkeypatch.setattr(guessing, "_redis", lambda: None)


def test_a_counter_window_that_closes_mid_reservation_opens_the_next(user, monkeypatch, cache_api):
    real_incr = cache.incr
    calls = {"n": 0}

    def incr_once_expired(key, delta=1, version=None):
        calls["n"] += 1
        if calls["n"] == 1:
            cache.delete(key)  # the window closed between `add` and `incr`
            raise ValueError(key)
        return real_incr(key, delta, version)

    monkeypatch.setattr(caches["default"], "incr", incr_once_expired)

    assert _reason(user=user, code=UNKNOWN_CODE) == "not_found"
    monkeypatch.undo()
    assert guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"] == 1


# --- the shared cache unreachable: fail closed ------------------------------------------------


def _cache_breaks(monkeypatch, *methods):
    def broken(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for method in methods:
        monkeypatch.setattr(caches["default"], method, broken)
    if guessing._redis() is not None:  # on Redis: its scripts too
        monkeypatch.setattr(guessing, "_redis", broken)


def test_cache_down_refuses_unavailable_without_a_look_up_or_a_write(user, lookups, monkeypatch):
    issued = issue_card()
    before = ledger_state()
    _cache_breaks(monkeypatch, "get_many", "add", "incr", "decr", "touch", "get", "delete")

    with pytest.raises(RedemptionUnavailable) as refusal:
        giftcard_redeem(user=user, code=issued.code, ip="192.0.2.1")

    assert refusal.value.reason == "unavailable"
    assert "Nothing was changed" in refusal.value.message
    assert isinstance(refusal.value, CodeRefused)
    assert lookups["n"] == 0
    assert ledger_state() == before
    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.ACTIVE


def test_cache_failing_half_way_through_the_reservation_gives_the_first_slot_back(
    user, monkeypatch, cache_api
):
    real_incr = cache.incr

    def incr_user_only(key, delta=1, version=None):
        if ":ip:" in key:
            raise RedisConnectionError("connection lost")
        return real_incr(key, delta, version)

    monkeypatch.setattr(caches["default"], "incr", incr_user_only)

    assert _reason(user=user, code=issue_card().code, ip="192.0.2.1") == "unavailable"
    monkeypatch.undo()
    assert guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"] == 0


def test_cache_lost_after_a_redemption_keeps_the_redemption(user, monkeypatch):
    issued = issue_card()
    monkeypatch.setattr(
        caches["default"], "decr", lambda *a, **k: _raise(RedisConnectionError("gone"))
    )
    # On Redis the slots go back in one script: it fails as the connection is lost.
    monkeypatch.setattr(
        guessing, "_release_script", lambda **k: _raise(RedisConnectionError("gone"))
    )

    redemption = giftcard_redeem(user=user, code=issued.code, ip="192.0.2.1")

    assert redemption.balance == 2500
    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.REDEEMED
    monkeypatch.undo()
    # The slot it could not give back stays taken until the window closes (stricter only).
    assert guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"] == 1


def test_cache_lost_while_starting_a_lockout_still_refuses_and_the_next_attempt_locks(
    user, monkeypatch, short_wait
):
    for _ in range(9):
        _reason(user=user, code=UNKNOWN_CODE)
    real_add = cache.add

    def add_no_lock(key, *args, **kwargs):
        if ":lock:" in key:
            raise RedisConnectionError("gone")
        return real_add(key, *args, **kwargs)

    monkeypatch.setattr(caches["default"], "add", add_no_lock)
    assert _reason(user=user, code=UNKNOWN_CODE) == "not_found"
    monkeypatch.undo()

    assert not guessing.redemption_is_locked(user_id=user.pk, ip=None)
    assert _reason(user=user, code=issue_card().code) == "locked"  # no slot left
    assert guessing.redemption_is_locked(user_id=user.pk, ip=None)


def _raise(error):
    raise error
