"""Benchmark: one evaluation of the promotions engine with 5 entered codes and 20 automatic
offers (docs/promotions.md, "Best combination"), in milliseconds.

The engine is pure (no database, no Django settings): this times `promotions_evaluate` alone,
as checkout's quote calls it. Three carts of offers:

- typical: a 12-line cart; the demo codes (WELCOME10, SAVE5 not combinable with it, BOOKS20,
  SHIPFREE, LIMITED1) and 20 automatic offers of every kind and layer (line discounts per
  category, buy X get Y, a few order discounts, two free-shipping offers, two exclusive);
- conflicting: the same 25 promotions with 12 not-combinable pairs among the line offers,
  the worst shape for the search (2^12 maximal sets of line offers);
- all-order: 25 order discounts, of which only one can apply.

Each line gives the median and best time of one whole evaluation (CPU time of this process,
so a busy machine disturbs it less: candidates, search, trim, refusals, notes, labels), then
the naive search alone, as the engine's first version chose ("naive": every maximal compatible
set of *all* candidates priced in full, the best discount only, same pricer), which must find
the same discount. The first version's whole evaluation (commit 38dca35) measured 5.5 ms
typical, 88 ms conflicting and 1.8 ms all-order on the same machine (docs/promotions.md).

    .venv/bin/python bench/promotions_engine.py            # default 200 rounds each
    .venv/bin/python bench/promotions_engine.py --rounds 50
"""

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promotions.engine import (
    EnteredCode,
    LineInput,
    PromotionSpec,
    ShippingInput,
    ShopperInput,
    promotions_evaluate,
    rule_check,
)
from promotions.layers import Pricer
from promotions.search import compatible, maximal_sets

SHOPPER = ShopperInput(
    user_id=1,
    region_code="US",
    currency="USD",
    locale="en_US",
    today=datetime.date(2026, 12, 1),
    has_orders=False,
)
CATEGORIES = [1, 2, 3, 4, 5, 6]
LINES = [
    LineInput(
        key=100 + n, category_id=CATEGORIES[n % 6], quantity=1 + n % 4, unit_price=499 + 731 * n
    )
    for n in range(12)
]
SHIPPING = ShippingInput(method="standard", amount=599, free_from=5000)


def _entered() -> list[PromotionSpec]:
    return [
        PromotionSpec(id=1, slug="welcome10", name="Welcome", kind="percent", target="order",
                      automatic=False, code="WELCOME10", percent=10, minimum_subtotal=2000,
                      first_order_only=True, per_shopper_limit=1),
        PromotionSpec(id=2, slug="books20", name="Books", kind="percent", target="items",
                      automatic=False, code="BOOKS20", percent=20, category_ids=frozenset({1})),
        PromotionSpec(id=3, slug="save5", name="Save 5", kind="fixed", target="order",
                      automatic=False, code="SAVE5", amount_off=500, minimum_subtotal=5000,
                      not_combinable_with=frozenset({1})),
        PromotionSpec(id=4, slug="shipfree", name="Ship free", kind="free_shipping",
                      target="shipping", automatic=False, code="SHIPFREE"),
        PromotionSpec(id=5, slug="limited1", name="Limited", kind="percent", target="order",
                      automatic=False, code="LIMITED1", percent=15, uses_left=1,
                      region_codes=frozenset({"US"})),
    ]  # fmt: skip


def _automatic(conflicting: bool) -> list[PromotionSpec]:
    offers = []
    for n in range(20):
        ident = 10 + n
        common = {"id": ident, "slug": f"auto-{n}", "name": f"Offer {n}", "automatic": True}
        category = frozenset({CATEGORIES[n % 6]})
        if n < 12:
            partner = ident + 1 if n % 2 == 0 else ident - 1
            conflicts = frozenset({partner}) if conflicting else frozenset()
            if n % 3 == 2:
                offers.append(
                    PromotionSpec(
                        **common,
                        kind="buy_x_get_y",
                        target="items",
                        buy_quantity=1,
                        get_quantity=1,
                        percent=50,
                        category_ids=category,
                        not_combinable_with=conflicts,
                    )
                )
            else:
                offers.append(
                    PromotionSpec(
                        **common,
                        kind="percent",
                        target="items",
                        percent=5 + n,
                        cap=1500,
                        category_ids=category,
                        not_combinable_with=conflicts,
                    )
                )
        elif n < 16:
            offers.append(
                PromotionSpec(
                    **common,
                    kind="fixed",
                    target="order",
                    amount_off=300 + 100 * n,
                    minimum_subtotal=1000 * n,
                )
            )
        elif n < 18:
            offers.append(
                PromotionSpec(**common, kind="free_shipping", target="shipping", budget_left=10_000)
            )
        else:
            offers.append(
                PromotionSpec(
                    **common, kind="percent", target="order", percent=12 + n, exclusive=True
                )
            )
    return offers  # fmt: skip


def _all_order() -> list[PromotionSpec]:
    return [
        PromotionSpec(id=ident, slug=f"o{ident}", name=f"Order {ident}", kind="percent",
                      target="order", automatic=ident > 5, code="" if ident > 5 else f"O{ident}",
                      percent=1 + ident % 30)
        for ident in range(1, 26)
    ]  # fmt: skip


def _time(run, rounds: int) -> tuple[float, float, object]:
    timings = []
    result = None
    for _ in range(rounds):
        started = time.process_time()
        result = run()
        timings.append((time.process_time() - started) * 1000)
    return statistics.median(timings), min(timings), result


def _before(promotions, entered) -> int:
    """The naive search: Bron-Kerbosch over every candidate, each maximal set priced in full
    (the best discount only)."""
    typed = {entry.promotion_id for entry in entered}
    candidates = [
        spec
        for spec in promotions
        if (spec.automatic or spec.id in typed)
        and spec.kind != "credit"
        and rule_check(spec=spec, lines=LINES, shopper=SHOPPER).passed
    ]
    pricer = Pricer(lines=LINES, shipping=SHIPPING, specs={spec.id: spec for spec in candidates})
    neighbours = [
        sum(1 << j for j, b in enumerate(candidates) if j != i and compatible(a, b))
        for i, a in enumerate(candidates)
    ]
    best = 0
    for mask in maximal_sets(neighbours):
        ids = [candidates[i].id for i in range(len(candidates)) if mask >> i & 1]
        best = max(best, pricer.price(ids).discount)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    codes = _entered()
    entered = [EnteredCode(code=spec.code, promotion_id=spec.id) for spec in codes]
    order = _all_order()
    scenarios = [
        ("typical", codes + _automatic(conflicting=False), entered),
        ("conflicting", codes + _automatic(conflicting=True), entered),
        ("all-order", order, [EnteredCode(code=s.code, promotion_id=s.id) for s in order[:5]]),
    ]
    subtotal = sum(line.quantity * line.unit_price for line in LINES)
    print(
        f"cart: {len(LINES)} lines, {sum(item.quantity for item in LINES)} units, {subtotal} minor"
    )
    for name, promotions, typed in scenarios:

        def now(promotions=promotions, typed=typed):
            return promotions_evaluate(
                lines=LINES,
                shipping=SHIPPING,
                shopper=SHOPPER,
                promotions=promotions,
                entered=typed,
            )

        median, best, evaluation = _time(now, args.rounds)
        naive_median, naive_best, naive = _time(
            lambda promotions=promotions, typed=typed: _before(promotions, typed), args.rounds
        )
        assert naive == evaluation.discount, (name, naive, evaluation.discount)
        print(
            f"{name:12} {len(typed)} codes + {len(promotions) - len(typed)} automatic: "
            f"median {median:.2f} ms (best {best:.2f}); naive search alone: median "
            f"{naive_median:.2f} ms (best {naive_best:.2f}); "
            f"{len(evaluation.applied)} applied, discount {evaluation.discount}, "
            f"{len(evaluation.refusals)} refused"
        )


if __name__ == "__main__":
    main()
