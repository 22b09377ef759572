"""Choosing the best allowed combination of promotions (docs/promotions.md, "Best combination").

1. Candidates: every entered code's promotion and every automatic offer that passes
   `rule_check` on its own (an entered code that fails is refused with that reason; an
   automatic offer that fails is silently not offered), and that gives something on its own.
2. Two candidates are compatible unless one is `exclusive`, either lists the other in
   `not_combinable_with`, or both are in the order layer or both in the shipping layer.
3. Adding a compatible promotion never lowers the total discount (each one takes a share of
   what the others left, and never more than that share shrank), so the best combination is
   among the *maximal* compatible sets: those are listed exactly (Bron-Kerbosch with pivot on
   bit masks), each is priced (`layers.Pricer`, sharing the line layer of common prefixes),
   and the largest total discount wins.
4. The winners are trimmed of members that add nothing, then the tie-break: fewer
   promotions, then entered codes before automatic offers, then lower ids.
5. An entered code left out is refused `not_combinable`, naming what it conflicts with, with
   a note of how much more the chosen combination saves than the best one that includes it.
"""

from collections.abc import Sequence

from promotions.engine import (
    AppliedPromotion,
    EnteredCode,
    Evaluation,
    LineInput,
    PromotionSpec,
    RuleResult,
    ShippingInput,
    ShopperInput,
)
from promotions.layers import Priced, Pricer
from promotions.rules import (
    LINE,
    ORDER,
    SHIPPING,
    TENDER,
    label_of,
    layer_of,
    money_text,
    refusal_build,
    rule_check_run,
)

_LAYER_RANK = {LINE: 0, ORDER: 1, SHIPPING: 2}


def compatible(a: PromotionSpec, b: PromotionSpec) -> bool:
    """May `a` and `b` be used together (the stacking table)?"""
    if a.exclusive or b.exclusive:
        return False
    if b.id in a.not_combinable_with or a.id in b.not_combinable_with:
        return False
    layer = layer_of(a)
    return not (layer in (ORDER, SHIPPING) and layer == layer_of(b))


def maximal_sets(neighbours: list[int]) -> list[int]:
    """Every maximal set of pairwise-compatible candidates, as bit masks (Bron-Kerbosch with
    pivot; `neighbours[i]` is the mask of candidates compatible with candidate i)."""
    found: list[int] = []
    stack = [(0, (1 << len(neighbours)) - 1, 0)]
    while stack:
        chosen, possible, excluded = stack.pop()
        if not possible:
            if not excluded:
                found.append(chosen)
            continue
        union = possible | excluded
        pivot = max(_bits(union), key=lambda u: (neighbours[u] & possible).bit_count())
        for v in _bits(possible & ~neighbours[pivot]):
            bit = 1 << v
            stack.append((chosen | bit, possible & neighbours[v], excluded & neighbours[v]))
            possible &= ~bit
            excluded |= bit
    return found


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class _Candidate:
    __slots__ = ("code", "code_id", "entered_rank", "spec")

    def __init__(self, spec, code, code_id, entered_rank):
        self.spec = spec
        self.code = code
        self.code_id = code_id
        self.entered_rank = entered_rank  # position among entered codes; None: automatic

    @property
    def name(self) -> str:
        return self.code or self.spec.name


def evaluate(
    *,
    lines: Sequence[LineInput],
    shipping: ShippingInput | None,
    shopper: ShopperInput,
    promotions: Sequence[PromotionSpec],
    entered: Sequence[EnteredCode],
) -> Evaluation:
    specs = {spec.id: spec for spec in promotions}
    refusals: dict[int, object] = {}  # entered position -> Refusal
    candidates: list[_Candidate] = []
    taken: dict[int, _Candidate] = {}

    def refuse(position, entry, spec, result):
        refusals[position] = refusal_build(
            code=entry.code, promotion_id=spec.id if spec else None, result=result, shopper=shopper
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
        if spec.id in taken:
            first = taken[spec.id]
            params = {"conflicts_with": first.name, "same_promotion": True}
            refuse(position, entry, spec, RuleResult(False, "not_combinable", params))
            continue
        result = rule_check_run(spec, lines, shopper)
        if not result.passed:
            refuse(position, entry, spec, result)
            continue
        candidate = _Candidate(spec, entry.code, entry.code_id, position)
        taken[spec.id] = candidate
        candidates.append(candidate)
    for spec in sorted(promotions, key=lambda s: s.id):
        offered = spec.automatic and spec.active and layer_of(spec) != TENDER
        if offered and spec.id not in taken and rule_check_run(spec, lines, shopper).passed:
            candidate = _Candidate(spec, "", None, None)
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

    chosen, all_sets = _best(candidates, pricer)
    priced = pricer.price(c.spec.id for c in chosen)
    chosen_ids = set(priced.ids)
    notes = []
    for candidate in candidates:
        if candidate.entered_rank is None or candidate.spec.id in chosen_ids:
            continue
        conflicts = [c for c in chosen if not compatible(candidate.spec, c.spec)]
        with_it = [
            pricer.price(c.spec.id for c in members) for members in all_sets if candidate in members
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
        saves = f"saves you {money_text(more, shopper)} more" if more else "saves you as much"
        notes.append(f"{candidate.code} was not used: {names} {saves}")

    applied = tuple(
        _applied(candidate, priced, shopper)
        for candidate in sorted(chosen, key=lambda c: (_LAYER_RANK[layer_of(c.spec)], c.spec.id))
    )
    return Evaluation(
        applied=applied,
        refusals=tuple(refusals[position] for position in sorted(refusals)),
        notes=tuple(notes),
        items_discount=priced.items_discount,
        shipping=priced.shipping,
        shipping_discount=priced.shipping_discount,
        unit_allocations=pricer.unit_totals(priced),
    )


def _applied(candidate: _Candidate, priced: Priced, shopper: ShopperInput) -> AppliedPromotion:
    part = priced.parts[candidate.spec.id]
    return AppliedPromotion(
        promotion_id=candidate.spec.id,
        slug=candidate.spec.slug,
        code=candidate.code,
        code_id=candidate.code_id,
        label=label_of(candidate.spec, candidate.code, shopper),
        amount=part.amount,
        unit_allocations=part.units,
        shipping_amount=part.shipping_amount,
    )


def _preference(members: Sequence[_Candidate]) -> tuple:
    """Smaller is better among equal discounts: fewer promotions, then entered codes before
    automatic offers, then lower ids."""
    ranks = sorted((0 if c.entered_rank is not None else 1, c.spec.id) for c in members)
    return (len(members), ranks)


def _best(candidates: list[_Candidate], pricer: Pricer):
    """The chosen combination and every maximal compatible set (lists of candidates)."""
    if not candidates:
        return [], []
    neighbours = [
        sum(
            1 << j
            for j, other in enumerate(candidates)
            if j != i and compatible(candidate.spec, other.spec)
        )
        for i, candidate in enumerate(candidates)
    ]
    all_sets = [[candidates[i] for i in _bits(mask)] for mask in maximal_sets(neighbours)]
    priced = [pricer.price(c.spec.id for c in members).discount for members in all_sets]
    top = max(priced)
    best_key = None
    best = []
    for members, discount in zip(all_sets, priced, strict=True):
        if discount != top:
            continue
        members = _trim(members, pricer)
        key = (-pricer.price(c.spec.id for c in members).discount, _preference(members))
        if best_key is None or key < best_key:
            best_key, best = key, members
    return best, all_sets


def _trim(members: list[_Candidate], pricer: Pricer) -> list[_Candidate]:
    """Drop members the set does as well without: automatic offers first, higher ids first."""
    kept = list(members)
    order = sorted(members, key=lambda c: (c.entered_rank is not None, -c.spec.id))
    for candidate in order:
        without = [c for c in kept if c is not candidate]
        if (
            pricer.price(c.spec.id for c in without).discount
            >= pricer.price(c.spec.id for c in kept).discount
        ):
            kept = without
    return kept
