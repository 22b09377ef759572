"""Choosing the best allowed combination of promotions (docs/promotions.md, "Best combination").

1. Two candidates are compatible unless one is `exclusive`, either lists the other in
   `not_combinable_with`, or both are in the order layer or both in the shipping layer.
2. Adding a compatible promotion never lowers the total discount (each one takes a share of
   what the others left, and never more than that share shrank). So for each choice of order
   promotion and shipping promotion (or none), the best line promotions are a *maximal*
   compatible set of the line candidates allowed beside them, and the one with the largest
   line discount: the order discount and the shipping depend on the line layer only through
   that total, and never fall when it grows. The maximal sets of line candidates are listed
   exactly once (Bron-Kerbosch with pivot on bit masks); each choice intersects them with what
   it allows. An exclusive candidate is a combination of its own.
3. The best of those by total discount wins. A winner is trimmed to its smallest part that
   saves as much (a member without which it saves less is in every such part, so only the
   others are tried), then the tie-break: fewer promotions, then entered codes before
   automatic offers, then lower ids.

The candidates, refusals and notes are promotions.evaluation's.
"""

import itertools
from collections.abc import Sequence

from promotions.engine import PromotionSpec
from promotions.layers import Pricer
from promotions.rules import LINE, ORDER, SHIPPING, layer_of

LAYER_RANK = {LINE: 0, ORDER: 1, SHIPPING: 2}
# Up to this many members that the winner might do without, every part of them is tried
# (2^n prices at most); beyond, they are dropped one by one.
_TRIM_EXACT_MAX = 10


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


class Candidate:
    __slots__ = ("code", "code_id", "entered_rank", "spec")

    def __init__(self, spec, code, code_id, entered_rank):
        self.spec = spec
        self.code = code
        self.code_id = code_id
        self.entered_rank = entered_rank  # position among entered codes; None: automatic

    @property
    def name(self) -> str:
        # A single-use code is not repeated in a refusal or a note: its promotion's name.
        if self.code and not self.spec.automatic and not self.spec.code:
            return self.spec.name
        return self.code or self.spec.name


def _preference(members: Sequence[Candidate]) -> tuple:
    """Smaller is better among equal discounts: fewer promotions, then entered codes before
    automatic offers, then lower ids."""
    ranks = sorted((0 if c.entered_rank is not None else 1, c.spec.id) for c in members)
    return (len(members), ranks)


class Search:
    """The search of step 3 over one cart's candidates (their pricer shared)."""

    def __init__(self, candidates: list[Candidate], pricer: Pricer):
        self.pricer = pricer
        plain = [c for c in candidates if not c.spec.exclusive]
        self.alone = [c for c in candidates if c.spec.exclusive]
        self.lines = [c for c in plain if layer_of(c.spec) == LINE]
        self.orders = [c for c in plain if layer_of(c.spec) == ORDER]
        self.ships = [c for c in plain if layer_of(c.spec) == SHIPPING]
        self.neighbours = [self._allowed_lines(c, skip=i) for i, c in enumerate(self.lines)]
        self.line_sets = maximal_sets(self.neighbours)
        self.beside = {id(c): self._allowed_lines(c) for c in self.orders + self.ships}
        self._totals: dict[int, int] = {}  # line mask -> its line discount
        self._best_cache: dict[tuple[int, int], list[int]] = {}

    def _allowed_lines(self, candidate: Candidate, skip: int | None = None) -> int:
        """The mask of line candidates compatible with `candidate`."""
        return sum(
            1 << j
            for j, other in enumerate(self.lines)
            if j != skip and compatible(candidate.spec, other.spec)
        )

    def _line_ids(self, mask: int) -> tuple[int, ...]:
        return tuple(sorted(self.lines[j].spec.id for j in _bits(mask)))

    def combinations(self, forced: Candidate | None = None) -> list[list[Candidate]]:
        """For each choice of order and shipping promotion (or none), the line candidates
        with the largest line discount beside it (all of them when tied); each exclusive
        candidate alone. With `forced`: only the combinations that contain it."""
        if forced is not None and forced.spec.exclusive:
            return [[forced]]
        layer = layer_of(forced.spec) if forced is not None else None
        orders = [forced] if layer == ORDER else [None, *self.orders]
        ships = [forced] if layer == SHIPPING else [None, *self.ships]
        force_bit, restrict = 0, (1 << len(self.lines)) - 1
        if layer == LINE:
            index = self.lines.index(forced)
            force_bit, restrict = 1 << index, self.neighbours[index]
        found = []
        for order in orders:
            for ship in ships:
                fixed = [c for c in (order, ship) if c is not None]
                if len(fixed) == 2 and not compatible(order.spec, ship.spec):
                    continue
                if force_bit and not all(compatible(forced.spec, c.spec) for c in fixed):
                    continue
                allowed = restrict
                for c in fixed:
                    allowed &= self.beside[id(c)]
                for mask in self._best_lines(allowed, force_bit):
                    found.append([self.lines[j] for j in _bits(mask)] + fixed)
        if forced is None:
            found.extend([c] for c in self.alone)
        return found

    def _best_lines(self, allowed: int, force_bit: int) -> list[int]:
        """The line masks with the largest line discount among those `allowed` (every
        order or shipping choice that allows the same lines shares the answer)."""
        cached = self._best_cache.get((allowed, force_bit))
        if cached is not None:
            return cached
        top, best, seen = -1, [], set()
        for line_set in self.line_sets:
            mask = (line_set & allowed) | force_bit
            if mask in seen:
                continue
            seen.add(mask)
            total = self._totals.get(mask)
            if total is None:
                total = self._totals[mask] = self.pricer.line_layer(self._line_ids(mask))[2]
            if total > top:
                top, best = total, [mask]
            elif total == top:
                best.append(mask)
        self._best_cache[(allowed, force_bit)] = best
        return best

    def best(self) -> list[Candidate]:
        """The chosen combination (step 4)."""
        found = self.combinations()
        discounts = [self._discount(members) for members in found]
        top = max(discounts)
        best_key, best, seen = None, [], set()
        for members, discount in zip(found, discounts, strict=True):
            if discount != top:
                continue
            # Ties often differ only by a shipping offer that gives nothing (shipping is
            # free already), which takes up nothing of the others: trim each such set once.
            priced = self.pricer.price(c.spec.id for c in members)
            same = frozenset(
                c.spec.id
                for c in members
                if priced.parts[c.spec.id].amount or layer_of(c.spec) != SHIPPING
            )
            if same in seen:
                continue
            seen.add(same)
            members = self._trim(members)
            key = (-self._discount(members), _preference(members))
            if best_key is None or key < best_key:
                best_key, best = key, members
        return best

    def _discount(self, members) -> int:
        return self.pricer.price(c.spec.id for c in members).discount

    def _trim(self, members: list[Candidate]) -> list[Candidate]:
        """The smallest part of `members` that saves as much, best by the tie-break.

        A member without which the set saves less is in every such part (a part of the set
        without it saves no more than the set without it), so only the others are tried,
        fewest first. A shipping offer that gives nothing never matters (shipping is free
        already, and stays free with fewer discounts)."""
        total = self._discount(members)
        priced = self.pricer.price(c.spec.id for c in members)
        members = [
            c for c in members if priced.parts[c.spec.id].amount or layer_of(c.spec) != SHIPPING
        ]
        needed, optional = [], []
        for candidate in members:
            without = [c for c in members if c is not candidate]
            (needed if self._discount(without) < total else optional).append(candidate)
        if len(optional) > _TRIM_EXACT_MAX:
            return self._trim_greedy(needed, optional, total)
        for size in range(len(optional) + 1):
            best_key, best = None, None
            for extra in itertools.combinations(optional, size):
                chosen = needed + list(extra)
                if self._discount(chosen) >= total:
                    key = (-self._discount(chosen), _preference(chosen))
                    if best_key is None or key < best_key:
                        best_key, best = key, chosen
            if best is not None:
                return best
        return members

    def _trim_greedy(self, needed, optional, total) -> list[Candidate]:
        """Too many to try every part: drop them one by one, automatic offers and higher
        ids first."""
        kept = needed + optional
        for candidate in sorted(optional, key=lambda c: (c.entered_rank is not None, -c.spec.id)):
            without = [c for c in kept if c is not candidate]
            if self._discount(without) >= total:
                kept = without
        return kept
