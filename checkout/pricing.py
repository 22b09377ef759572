"""Pricing: from cart lines to what the shopper pays, in one place.

    subtotal   = Σ unit price x quantity            (the region's prices, minor units)
    shipping   = the chosen method's rate           (0 when nothing ships; standard is free
                                                     from the region's threshold)
    discount   = the promotions engine's discount   (items, then the order, then shipping:
                                                     docs/promotions.md; never above
                                                     subtotal + shipping)
    total      = subtotal + shipping - discount
    balance    = credit + money when the shopper keeps "use my balance" on:
                 credit = what the promotional credit lots may pay (soonest-expiring first, a
                          lot restricted to categories only up to those lines' discounted
                          totals, shipping only by unrestricted lots: wallet.credit.credit_plan)
                 money  = min(gift card money, total - credit)
    amount due = total - balance                    (charged to the card)

Gift cards bought (`PricedGiftCard`, docs/interface.md §12) are in the subtotal and the total,
but nothing else looks at them: they are never discounted, they count for no free-shipping
threshold, and the balance (credit or money) never pays them: the card does. So the balance
part is at most `total - gift_card_total`, and the amount due always includes the gift cards.

Standard shipping's free-from threshold compares the items' subtotal *before* promotions (a
discount never costs the shopper their free shipping): the engine prices it
(`Evaluation.shipping`), and the options shown are priced the same way.

Pure functions over plain values: no database, so every page and the order service price
the same way.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from promotions.engine import AppliedPromotion, Evaluation, Refusal
from wallet.credit import credit_plan


@dataclass(frozen=True)
class PricedLine:
    product_id: int
    slug: str
    name: str
    quantity: int
    unit_price: int | None  # None: not sold in this region
    digital: bool = False  # delivered at once; a cart of only these ships nothing
    category_id: int | None = None  # what category promotions and credit lots look at
    # A gift card product as a plain line: never bought this way (unit_price None), since a
    # gift card needs its recipient (`PricedGiftCard`); the cart says so.
    is_gift_card: bool = False

    @property
    def total(self) -> int:
        return (self.unit_price or 0) * self.quantity


@dataclass(frozen=True)
class PricedGiftCard:
    """A gift card in the cart (`CartGiftCard`), as it will be bought: its own line of
    `amount` (minor units of the region's currency), paid by card only."""

    id: int  # the `CartGiftCard`'s
    product_id: int
    name: str  # the order line's name ("Gift card for Ann")
    amount: int
    delivery: str  # "email" / "print"
    recipient_name: str
    recipient_email: str
    message: str
    design: str
    send_on: datetime.date | None  # None: as soon as the order is paid
    sender_name: str = ""  # who it is from ("" : "A friend")

    @property
    def total(self) -> int:
        return self.amount


@dataclass(frozen=True)
class Discount:
    """A reduction of the order (a promotional code, later). `amount` in minor units."""

    label: str
    amount: int


@dataclass(frozen=True)
class Rate:
    """A region's rate for one method, as stored (`ShippingRate`)."""

    method: str
    amount: int
    free_from: int | None = None
    delivery_days: str = ""


@dataclass(frozen=True)
class ShippingLine:
    """The shipping line of a quote: what the chosen method costs for this cart. `full_amount`
    is the rate before the free-shipping threshold, so a page can show "free (was …)"."""

    method: str
    amount: int
    full_amount: int
    free_from: int | None
    delivery_days: str

    @property
    def is_free(self) -> bool:
        return self.amount == 0


def shipping_line_build(*, rate: Rate, subtotal: int) -> ShippingLine:
    """Price one method for a cart of `subtotal`: its rate, or nothing from its threshold."""
    free = rate.free_from is not None and subtotal >= rate.free_from
    return ShippingLine(
        method=rate.method,
        amount=0 if free else rate.amount,
        full_amount=rate.amount,
        free_from=rate.free_from,
        delivery_days=rate.delivery_days,
    )


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: list[PricedLine]
    subtotal: int
    discount: int
    total: int
    balance_available: int
    use_balance: bool
    balance_applied: int
    amount_due: int
    discounts: list[Discount] = field(default_factory=list)
    # None when nothing in the cart ships (digital only, or empty).
    shipping_line: ShippingLine | None = None
    # Every method offered, priced for this cart (the chosen one is `shipping_line`).
    shipping_options: list[ShippingLine] = field(default_factory=list)
    # What the promotions engine decided (None: no promotion was looked at, e.g. an empty
    # cart). `discount` is its discount, shipping's included.
    evaluation: Evaluation | None = None
    # The part of `balance_applied` paid by promotional credit (the rest is gift card money).
    credit_applied: int = 0
    # Gift cards bought: in `subtotal` and `total`, never in `balance_applied` (module doc).
    gift_cards: list[PricedGiftCard] = field(default_factory=list)

    @property
    def gift_card_total(self) -> int:
        return sum(card.amount for card in self.gift_cards)

    @property
    def items_subtotal(self) -> int:
        """The subtotal of the other lines: what promotions and shipping look at."""
        return self.subtotal - self.gift_card_total

    @property
    def is_empty(self) -> bool:
        return not self.lines and not self.gift_cards

    @property
    def applied(self) -> tuple[AppliedPromotion, ...]:
        """The promotions applied, automatic ones included (docs/interface.md §11)."""
        return self.evaluation.applied if self.evaluation else ()

    @property
    def refusals(self) -> tuple[Refusal, ...]:
        """One per entered code that is not applied, with its reason."""
        return self.evaluation.refusals if self.evaluation else ()

    @property
    def notes(self) -> tuple[str, ...]:
        """The engine's words on its choice ("SAVE5 was not used: WELCOME10 saves you …")."""
        return self.evaluation.notes if self.evaluation else ()

    @property
    def money_applied(self) -> int:
        return self.balance_applied - self.credit_applied

    @property
    def needs_shipping(self) -> bool:
        return any(not line.digital for line in self.lines)

    @property
    def shipping(self) -> int:
        return self.shipping_line.amount if self.shipping_line else 0

    @property
    def shipping_method(self) -> str:
        return self.shipping_line.method if self.shipping_line else ""

    @property
    def unavailable(self) -> list[PricedLine]:
        return [line for line in self.lines if line.unit_price is None]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


def quote_build(
    *,
    currency: str,
    lines: Sequence[PricedLine],
    balance: int,
    use_balance: bool,
    discounts: Sequence[Discount] = (),
    rates: Sequence[Rate] = (),
    shipping_method: str = "standard",
    evaluation: Evaluation | None = None,
    credit_lots: Sequence = (),
    money: int | None = None,
    gift_cards: Sequence[PricedGiftCard] = (),
) -> Quote:
    """Price `lines` and split the total between the balance and the card (see the module).
    `rates` are the region's shipping rates; a cart with a physical line ships by
    `shipping_method` (the first rate when that method is not offered).

    `evaluation` is the promotions engine's answer for these lines and that method: its
    discount is the quote's, and its `shipping` the chosen method's price. `credit_lots`
    (`wallet.selectors.CreditLotView`) and `money` split `balance` (their total) into
    promotional credit and gift card money; without them the whole balance is money.
    `gift_cards` are added to the subtotal and paid by card only (module doc)."""
    items = sum(line.total for line in lines)
    gift_card_total = sum(card.amount for card in gift_cards)
    subtotal = items + gift_card_total
    options = []
    if any(not line.digital for line in lines):
        # Free-from is judged on the items before promotions (docs/promotions.md): a discount
        # never costs the shopper their free shipping. Gift cards bought do not count.
        options = [shipping_line_build(rate=rate, subtotal=items) for rate in rates]
    chosen = next((o for o in options if o.method == shipping_method), None)
    chosen = chosen or (options[0] if options else None)
    if evaluation is not None and chosen is not None and chosen.amount != evaluation.shipping:
        # The engine priced the method the quote chose: its figure is the one charged.
        chosen = replace(chosen, amount=evaluation.shipping)
        options = [chosen if o.method == chosen.method else o for o in options]
    shipping = chosen.amount if chosen else 0
    # A discount never reaches the gift cards: at most the other lines and shipping.
    if evaluation is not None:
        discount = min(evaluation.discount, items + shipping)
    else:
        discount = min(sum(d.amount for d in discounts), items + shipping)
    total = subtotal + shipping - discount
    # What the balance may pay: everything but the gift cards (the card pays those).
    payable_by_balance = total - gift_card_total
    credit_applied, balance_applied = 0, 0
    if use_balance and payable_by_balance > 0:
        if credit_lots:
            payable = _payable_by_category(lines, evaluation, shipping)
            credit_applied = credit_plan(
                lots=credit_lots, amount=payable_by_balance, payable_by_category=payable
            ).credit
        cash = max(balance if money is None else money, 0)
        balance_applied = credit_applied + min(cash, payable_by_balance - credit_applied)
    return Quote(
        currency=currency,
        lines=list(lines),
        subtotal=subtotal,
        discount=discount,
        total=total,
        balance_available=balance,
        use_balance=use_balance,
        balance_applied=balance_applied,
        amount_due=total - balance_applied,
        discounts=list(discounts),
        shipping_line=chosen,
        shipping_options=options,
        evaluation=evaluation,
        credit_applied=credit_applied,
        gift_cards=list(gift_cards),
    )


def _payable_by_category(
    lines: Sequence[PricedLine], evaluation: Evaluation | None, shipping: int
) -> dict[int | None, int]:
    """What is left to pay per category once the discounts are taken off each line: what a
    credit lot restricted to categories may pay. Shipping (and a line without a category) is
    under None, which only an unrestricted lot pays."""
    allocations = evaluation.unit_allocations if evaluation else {}
    payable: dict[int | None, int] = {}
    for line in lines:
        left = line.total - sum(allocations.get(line.product_id, ()))
        payable[line.category_id] = payable.get(line.category_id, 0) + max(left, 0)
    shipping_left = shipping - (evaluation.shipping_discount if evaluation else 0)
    payable[None] = payable.get(None, 0) + max(shipping_left, 0)
    return payable
