"""What a change of a promotion's terms changed, old → new, in words staff read: recorded in
the change's audit entry (promotions/services/staff.py) and shown to the approver on the
promotion's page, so a second person approves a change knowing what it is.

The audit entry's detail holds 500 characters: its first line says what became of the
promotion, each further line one changed term ("percent: 10 → 20", "USD cap per use: not set
→ 30.00"). A set too long to list whole is written as what it gains and loses; what still
does not fit is named at the end, never dropped silently.
"""

from dataclasses import dataclass

from catalog.models import Category, Product
from catalog.money import to_major_text
from promotions.approval import AmountTerms, PromotionTerms
from promotions.models import Promotion

# AuditEntry.detail's length.
DETAIL_LENGTH = 500
# The first line (what became of the promotion) is cut to this, leaving room for the changes.
OUTCOME_LENGTH = 160

_SCALARS = {
    "slug": "slug",
    "name": "name",
    "description": "description",
    "kind": "kind",
    "target": "applies to",
    "percent": "percent",
    "buy_quantity": "buy quantity",
    "get_quantity": "get quantity",
    "credit_days": "credit days",
    "starts_on": "starts on",
    "ends_on": "ends on",
    "first_order_only": "first order only",
    "per_shopper_limit": "limit per shopper",
    "total_limit": "total limit",
    "exclusive": "exclusive",
}
_SETS = {
    "region_codes": ("regions", "every region"),
    "category_ids": ("categories", "none"),
    "product_ids": ("products", "none"),
    "not_combinable_with": ("not combinable with", "none"),
}
_AMOUNTS = {
    "amount_off": "amount off / credit",
    "minimum_subtotal": "minimum subtotal",
    "cap": "cap per use",
    "budget": "budget",
}


@dataclass(frozen=True)
class TermChange:
    """One changed term: its label, and the old and new values as text. For a set, `added`
    and `removed` say the same more briefly."""

    label: str
    old: str
    new: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def line(self, *, brief: bool = False) -> str:
        if brief and (self.added or self.removed):
            parts = []
            if self.added:
                parts.append("+" + ", ".join(self.added))
            if self.removed:
                parts.append("-" + ", ".join(self.removed))
            return f"{self.label}: " + " ".join(parts)
        return f"{self.label}: {self.old} → {self.new}"


def _scalar_text(name: str, value) -> str:
    if value is None or value == "":
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "kind":
        return Promotion.Kind(value).label
    if name == "target":
        return Promotion.Target(value).label
    if name in ("name", "description"):
        # One line per term: a newline typed into a name must not start a line of its own.
        return repr(" ".join(str(value).split()))
    return str(value)


def _names(name: str, ids: frozenset) -> dict:
    """Readable names of a set's members (one query per set that changed)."""
    if name == "region_codes":
        return {code: code for code in ids}
    model = {"category_ids": Category, "product_ids": Product, "not_combinable_with": Promotion}
    found = dict(model[name].objects.filter(pk__in=ids).values_list("pk", "slug"))
    return {pk: f"#{pk}" for pk in ids} | found


def _amount_text(value: int | None, currency: str) -> str:
    return "not set" if value is None else to_major_text(value, currency=currency)


def promotion_changes(old: PromotionTerms, new: PromotionTerms) -> list[TermChange]:
    """Each term that differs between `old` and `new`, in the form's order."""
    changes = []
    for name, label in _SCALARS.items():
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes.append(TermChange(label, _scalar_text(name, before), _scalar_text(name, after)))
    for name, (label, empty) in _SETS.items():
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        names = _names(name, before | after)

        def listed(ids, empty=empty, names=names):
            return ", ".join(sorted(names[i] for i in ids)) or empty

        changes.append(
            TermChange(
                label,
                listed(before),
                listed(after),
                added=tuple(sorted(names[i] for i in after - before)),
                removed=tuple(sorted(names[i] for i in before - after)),
            )
        )
    for currency in sorted(set(old.amounts) | set(new.amounts)):
        before = old.amounts.get(currency, AmountTerms())
        after = new.amounts.get(currency, AmountTerms())
        for name, label in _AMOUNTS.items():
            a, b = getattr(before, name), getattr(after, name)
            if a != b:
                changes.append(
                    TermChange(
                        f"{currency} {label}", _amount_text(a, currency), _amount_text(b, currency)
                    )
                )
    return changes


def promotion_changes_text(outcome: str, changes: list[TermChange]) -> str:
    """The audit detail: `outcome`, then one line per change, within `DETAIL_LENGTH`."""
    if len(outcome) > OUTCOME_LENGTH:
        outcome = outcome[: OUTCOME_LENGTH - 1] + "…"
    for brief in (False, True):
        text = "\n".join([outcome, *(c.line(brief=brief) for c in changes)])
        if len(text) <= DETAIL_LENGTH:
            return text
    lines = [outcome]
    for index, change in enumerate(changes):
        rest = changes[index:]
        tail = "also changed: " + ", ".join(c.label for c in rest)
        line = change.line(brief=True)
        others = ("also changed: " + ", ".join(c.label for c in rest[1:])) if rest[1:] else ""
        if len("\n".join([*lines, line, others])) > DETAIL_LENGTH:
            lines.append(tail)
            break
        lines.append(line)
    return "\n".join(lines)[:DETAIL_LENGTH]


def promotion_changes_lines(detail: str) -> tuple[str, list[str]]:
    """An audit detail written by `promotion_changes_text`, split back into its outcome and
    its change lines (for the page; older entries have the outcome alone)."""
    outcome, _, rest = detail.partition("\n")
    return outcome, [line for line in rest.split("\n") if line]
