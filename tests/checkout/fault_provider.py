"""A payment provider that fails on demand, for the fault tests (docs/interface.md §9).

`FaultyGateway(authorize=TimeoutError("…"), void=ConnectionError("…"))` behaves as the test
gateway except that each named call raises the given error. `authorize_after_hold=True` makes
authorize take the hold first and then fail, as a provider whose answer was lost on the way.
"""

from collections import Counter

from checkout import payments
from checkout.payments import TestGateway


class FaultyGateway(TestGateway):
    __test__ = False

    def __init__(self, *, authorize_after_hold: bool = False, **faults: BaseException):
        super().__init__()
        unknown = set(faults) - {"authorize", "capture", "void", "refund"}
        assert not unknown, f"no such provider call: {unknown}"
        self.faults = faults
        self.authorize_after_hold = authorize_after_hold
        self.calls: Counter[str] = Counter()

    def _maybe_fail(self, call: str) -> None:
        fault = self.faults.get(call)
        if fault is not None:
            raise fault

    def authorize(self, **kwargs):
        self.calls["authorize"] += 1
        if self.authorize_after_hold:
            super().authorize(**kwargs)
        self._maybe_fail("authorize")
        return super().authorize(**kwargs)

    def capture(self, authorization):
        self.calls["capture"] += 1
        self._maybe_fail("capture")
        super().capture(authorization)

    def void(self, authorization):
        self.calls["void"] += 1
        self._maybe_fail("void")
        super().void(authorization)

    def refund(self, **kwargs):
        self.calls["refund"] += 1
        self._maybe_fail("refund")
        return super().refund(**kwargs)


def install(monkeypatch, **faults) -> FaultyGateway:
    """Make a `FaultyGateway` the process's provider for this test."""
    gateway = FaultyGateway(**faults)
    monkeypatch.setattr(payments, "_provider", gateway)
    return gateway
