import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from tests.wallet.test_ledger_state_machine import LedgerMachine
import wallet.services as services
from wallet import guessing


def _run():
    run_state_machine_as_test(LedgerMachine, settings=settings(max_examples=30, stateful_step_count=25, deadline=None, database=None))


@pytest.mark.django_db
def test_mutant_no_lock(monkeypatch):
    monkeypatch.setattr(guessing, "redemption_failure_record", lambda **kw: None)
    _run()


@pytest.mark.django_db
def test_mutant_replay_raises(monkeypatch):
    def fake(existing, legs):
        raise services.IdempotencyConflict("x")
    monkeypatch.setattr(services, "_transfer_replay", fake)
    _run()


@pytest.mark.django_db
def test_mutant_redeem_twice(monkeypatch):
    from wallet.models import GiftCard
    orig = GiftCard.save
    def save(self, *a, **k):
        if k.get("update_fields") and "status" in k["update_fields"]:
            return None
        return orig(self, *a, **k)
    monkeypatch.setattr(GiftCard, "save", save)
    _run()


@pytest.mark.django_db
def test_mutant_region_check(monkeypatch):
    from wallet.models import GiftCard
    monkeypatch.setattr(services, "code_normalize", lambda c: services.code_normalize.__wrapped__(c) if hasattr(services.code_normalize, "__wrapped__") else c.upper().replace("-", ""))
    _run()
