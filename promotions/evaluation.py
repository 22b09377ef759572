"""One evaluation: the candidates, the best combination (promotions.search), the refusals
and notes, and the answer (`Evaluation`), as docs/promotions.md, "Best combination", says.

1. Candidates: every entered code's promotion and every automatic offer that passes
   `rule_check` on its own (an entered code that fails is refused with that reason; an
   automatic offer that fails is silently not offered), and that gives something on its own.
2. The search chooses among them (promotions.search).
3. An entered code left out is refused `not_combinable`, naming what it conflicts with, with
   a note of how much more the chosen combination saves than the best one that includes it
   (the same search, with that code forced in); one that gives nothing in any combination is
   `no_eligible_items`.
4. Gift card bonus offers stand beside all that: never a discount, they combine with every
   promotion (the stacking table's tenders row). Of those the gift cards qualify for, the one
   with the largest credit is kept (ties: an entered code, then the lower id); an entered one
   left out is refused `not_combinable`, naming the one kept.
"""

from collections.abc import Sequence

from promotions.engine import (
    AppliedBonus,
    AppliedPromotion,
    EnteredCode,
    Evaluation,
    LineInput,
    PromotionSpec,
    Refusal,
    RuleResult,
    ShippingInput,
    ShopperInput,
)
from promotions.layers import Priced, Pricer
from promotions.rules import (
    BONUS,
    SHIPPING,
    TENDER,
    code_shown,
    label_of,
    layer_of,
    money_text,
    refusal_build,
    rule_check_run,
)
from promotions.search import LAYER_RANK, Candidate, Search, compatible


def evaluate(
    *,
    lines: Sequence[LineInput],
    shipping: ShippingInput | None,
    shopper: ShopperInput,
    promotions: Sequence[PromotionSpec],
    entered: Sequence[EnteredCode],
    gift_card_total: int = 0,
) -> Evaluation:
    specs = {spec.id: spec for spec in promotions}
    refusals: dict[int, Refusal] = {}  # entered position -> Refusal
    candidates: list[Candidate] = []
    taken: dict[int, Candidate] = {}
    bonuses: list[Candidate] = []

    def refuse(position, entry, spec, result):
        refusals[position] = refusal_build(
            code=entry.code,
            promotion_id=spec.id if spec else None,
            result=result,
            shopper=shopper,
            spec=spec,
        )

    for position, entry in enumerate(entered):
        spec = specs.get(entry.promotion_id) if entry.promotion_id is not None else None
        if spec is None or not spec.active:
            refuse(position, entry, None, RuleResult(False, "not_found"))
            continue
        if layer_of(spec) == TENDER:
            continue  # credit is granted to the balance at once, never a discount
        if entry.already_redeemed:
            refuse(
                position, entry, spec, RuleResult(False, "usage_limit_reached", {"limit": "code"})
            )
            continue
        if spec.id in taken or any(b.spec.id == spec.id for b in bonuses):
            first = taken.get(spec.id) or next(b for b in bonuses if b.spec.id == spec.id)
            params = {"conflicts_with": first.name, "same_promotion": True}
            refuse(position, entry, spec, RuleResult(False, "not_combinable", params))
            continue
        result = rule_check_run(spec, lines, shopper, gift_card_total=gift_card_total)
        if not result.passed:
            refuse(position, entry, spec, result)
            continue
        candidate = Candidate(spec, entry.code, entry.code_id, position)
        if layer_of(spec) == BONUS:
            bonuses.append(candidate)
            continue
        taken[spec.id] = candidate
        candidates.append(candidate)
    for spec in sorted(promotions, key=lambda s: s.id):
        offered = spec.automatic and spec.active and layer_of(spec) != TENDER
        if offered and layer_of(spec) == BONUS:
            passed = rule_check_run(spec, lines, shopper, gift_card_total=gift_card_total).passed
            if passed and all(b.spec.id != spec.id for b in bonuses):
                bonuses.append(Candidate(spec, "", None, None))
            continue
        if offered and spec.id not in taken and rule_check_run(spec, lines, shopper).passed:
            candidate = Candidate(spec, "", None, None)
            taken[spec.id] = candidate
            candidates.append(candidate)

    pricer = Pricer(lines=lines, shipping=shipping, specs={c.spec.id: c.spec for c in candidates})
    kept = []
    for candidate in candidates:
        spec = candidate.spec
        reason = None
        if layer_of(spec) == SHIPPING:
            if not pricer.shipping_applies(spec.id):
                reason = {"shipping": "standard"}
        elif pricer.price((spec.id,)).discount == 0:
            reason = {"nothing_left": True}
        if reason is None:
            kept.append(candidate)
        elif candidate.entered_rank is not None:
            result = RuleResult(False, "no_eligible_items", reason)
            refuse(candidate.entered_rank, candidate, spec, result)
    candidates = kept

    search = Search(candidates, pricer)
    chosen = search.best()
    priced = pricer.price(c.spec.id for c in chosen)
    chosen_ids = set(priced.ids)
    notes = []
    for candidate in candidates:
        if candidate.entered_rank is None or candidate.spec.id in chosen_ids:
            continue
        conflicts = [c for c in chosen if not compatible(candidate.spec, c.spec)]
        with_it = [
            pricer.price(c.spec.id for c in members)
            for members in search.combinations(forced=candidate)
        ]
        if not conflicts or all(p.parts[candidate.spec.id].amount == 0 for p in with_it):
            # It adds nothing, whatever it is combined with (or on top of the chosen ones).
            params = {"shipping_free": True} if layer_of(candidate.spec) == SHIPPING else {}
            params = params or {"nothing_left": True}
            result = RuleResult(False, "no_eligible_items", params)
            refuse(candidate.entered_rank, candidate, candidate.spec, result)
            continue
        names = " and ".join(c.name for c in conflicts)
        refuse(
            candidate.entered_rank,
            candidate,
            candidate.spec,
            RuleResult(False, "not_combinable", {"conflicts_with": conflicts[0].name}),
        )
        more = priced.discount - max(p.discount for p in with_it)
        saves = f"saves you {money_text(more, shopper)} more" if more > 0 else "saves you as much"
        shown = code_shown(candidate.code, candidate.spec)
        notes.append(f"{shown} was not used: {names} {saves}")

    applied = tuple(
        _applied(candidate, priced, pricer, shopper)
        for candidate in sorted(chosen, key=lambda c: (LAYER_RANK[layer_of(c.spec)], c.spec.id))
    )
    bonus = _bonus_chosen(bonuses)
    for candidate in bonuses:
        if candidate is not bonus and candidate.entered_rank is not None:
            params = {"conflicts_with": bonus.name}
            refuse(
                candidate.entered_rank,
                candidate,
                candidate.spec,
                RuleResult(False, "not_combinable", params),
            )
    return Evaluation(
        applied=applied,
        bonuses=(_bonus_applied(bonus, shopper),) if bonus is not None else (),
        refusals=tuple(refusals[position] for position in sorted(refusals)),
        notes=tuple(notes),
        items_discount=priced.items_discount,
        shipping=priced.shipping,
        shipping_discount=priced.shipping_discount,
        unit_allocations=pricer.unit_totals(priced),
    )


def _applied(
    candidate: Candidate, priced: Priced, pricer: Pricer, shopper: ShopperInput
) -> AppliedPromotion:
    part = priced.parts[candidate.spec.id]
    return AppliedPromotion(
        promotion_id=candidate.spec.id,
        slug=candidate.spec.slug,
        code=candidate.code,
        code_id=candidate.code_id,
        label=label_of(candidate.spec, candidate.code, shopper),
        amount=part.amount,
        unit_allocations=pricer.part_units(part),
        shipping_amount=part.shipping_amount,
        shown=code_shown(candidate.code, candidate.spec),
    )


def _bonus_chosen(bonuses: list[Candidate]) -> Candidate | None:
    """The gift card bonus kept: the largest credit, then an entered code, then the lower id
    (one order earns one bonus; a shop's tiers are alternatives, not a sum)."""
    if not bonuses:
        return None
    return min(
        bonuses,
        key=lambda c: (-bonus_credit(c.spec), c.entered_rank is None, c.spec.id),
    )


def bonus_credit(spec: PromotionSpec) -> int:
    """The credit a gift card bonus gives now: its amount, trimmed to what its budget has
    left (the claim trims it again under the lock)."""
    credit = spec.amount_off or 0
    return credit if spec.budget_left is None else min(credit, spec.budget_left)


def _bonus_applied(candidate: Candidate, shopper: ShopperInput) -> AppliedBonus:
    spec = candidate.spec
    return AppliedBonus(
        promotion_id=spec.id,
        slug=spec.slug,
        code=candidate.code,
        code_id=candidate.code_id,
        label=label_of(spec, candidate.code, shopper),
        credit=bonus_credit(spec),
        minimum=spec.minimum_subtotal or 0,
        shown=code_shown(candidate.code, spec),
    )
