"""Pricing: from cart lines to what the shopper pays, in one place.

    subtotal   = Σ unit price x quantity            (the region's prices, minor units)
    shipping   = the chosen method's rate           (0 when nothing ships; standard is free
                                                     from the region's threshold)
    discount   = the promotions engine's discount   (items, then the order, then shipping:
                                                     docs/promotions.md; never above
                                                     subtotal + shipping)
    total      = subtotal + shipping - discount
    coins      = what the shopper's coins pay when "use my coins" is on (the default): only
                 digital lines, each at most its total after its discounts, line by line in
                 the cart's order, whole coins only (wallet.units.coins_for_value)
    balance    = credit + money when the shopper keeps "use my balance" on, of what is left:
                 credit = what the promotional credit lots may pay (soonest-expiring first, a
                          lot restricted to categories only up to those lines' discounted
                          totals less what coins paid of them, shipping only by unrestricted
                          lots: wallet.credit.credit_plan)
                 money  = min(gift card money, total - card-only lines - coins - credit)
    amount due = total - balance - coins            (charged to the card)

Gift cards bought (`PricedGiftCard`, docs/interface.md §12) are in the subtotal and the total,
but nothing else looks at them: they are never discounted, they count for no free-shipping
threshold, and the balance (credit or money) never pays them: the card does. So the balance
part is at most `total - gift_card_total`, and the amount due always includes the gift cards.

Coin packs (`PricedLine.coin_pack`, docs/points.md) are money instruments like gift cards:
card only (never the balance, credit or coins), never discounted (the promotions engine never
sees them) and counted for no free-shipping threshold; they ship nothing.

Standard shipping's free-from threshold compares the items' subtotal *before* promotions (a
discount never costs the shopper their free shipping): the engine prices it
(`Evaluation.shipping`), and the options shown are priced the same way.

Pure functions over plain values: no database, so every page and the order service price
the same way.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from checkout.pricing_coins import balance_payable_by_category, coins_allocate, coins_may_pay
from promotions.engine import AppliedPromotion, Evaluation, Refusal
from wallet.credit import credit_plan
from wallet.units import coins_for_value, coins_value


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
    # A coin pack (paid by card only, module doc) and the coins one pack gives, bonus included.
    coin_pack: bool = False
    pack_coins: int = 0
    # A Subscribe & Save delivery's line (checkout/baskets.py): the catalog's unit price before
    # its discount; `unit_price` is the discounted one.
    list_price: int | None = None

    @property
    def total(self) -> int:
        return (self.unit_price or 0) * self.quantity

    @property
    def ships(self) -> bool:
        """Whether the line is sent by post: neither a digital item nor a coin pack."""
        return not self.digital and not self.coin_pack


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
    # The shopper's coins (a count) and what they are worth in `currency` (minor units).
    coins_balance: int = 0
    coins_available: int = 0
    use_coins: bool = True
    # What coins pay (minor units), the coins that takes, and each digital line's part of it
    # (product id -> minor units; only lines coins pay), in the cart's order.
    coins_applied: int = 0
    coins_spent: int = 0
    line_coins: dict[int, int] = field(default_factory=dict)

    @property
    def gift_card_total(self) -> int:
        return sum(card.amount for card in self.gift_cards)

    @property
    def coin_packs(self) -> list[PricedLine]:
        return [line for line in self.lines if line.coin_pack]

    @property
    def coin_pack_total(self) -> int:
        return sum(line.total for line in self.coin_packs)

    @property
    def card_only_total(self) -> int:
        """What only the card pays: the gift cards and the coin packs."""
        return self.gift_card_total + self.coin_pack_total

    @property
    def coins_shown(self) -> bool:
        """Whether the page shows the coins part: the shopper has coins, or coins could pay
        a line of the cart."""
        return self.coins_balance > 0 or any(coins_may_pay(line) for line in self.lines)

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
        return any(line.ships for line in self.lines)

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
    coins: int = 0,
    use_coins: bool = True,
) -> Quote:
    """Price `lines` and split the total between coins, the balance and the card (see the
    module). `rates` are the region's shipping rates; a cart with a physical line ships by
    `shipping_method` (the first rate when that method is not offered).

    `evaluation` is the promotions engine's answer for these lines and that method: its
    discount is the quote's, and its `shipping` the chosen method's price. `credit_lots`
    (`wallet.selectors.CreditLotView`) and `money` split `balance` (their total) into
    promotional credit and gift card money; without them the whole balance is money.
    `gift_cards` are added to the subtotal and paid by card only (module doc). `coins` is the
    shopper's coin count; with `use_coins` they pay the digital lines first."""
    items = sum(line.total for line in lines)
    # What promotions and the free-shipping threshold look at: not the coin packs.
    goods = sum(line.total for line in lines if not line.coin_pack)
    gift_card_total = sum(card.amount for card in gift_cards)
    subtotal = items + gift_card_total
    options = []
    if any(line.ships for line in lines):
        # Free-from is judged on the items before promotions (docs/promotions.md): a discount
        # never costs the shopper their free shipping. Gift cards and coin packs do not count.
        options = [shipping_line_build(rate=rate, subtotal=goods) for rate in rates]
    chosen = next((o for o in options if o.method == shipping_method), None)
    chosen = chosen or (options[0] if options else None)
    if evaluation is not None and chosen is not None and chosen.amount != evaluation.shipping:
        # The engine priced the method the quote chose: its figure is the one charged.
        chosen = replace(chosen, amount=evaluation.shipping)
        options = [chosen if o.method == chosen.method else o for o in options]
    shipping = chosen.amount if chosen else 0
    # A discount never reaches the gift cards or coin packs: at most the goods and shipping.
    if evaluation is not None:
        discount = min(evaluation.discount, goods + shipping)
    else:
        discount = min(sum(d.amount for d in discounts), goods + shipping)
    total = subtotal + shipping - discount
    card_only = gift_card_total + (items - goods)
    # Coins first, on the digital lines; never more than what is not card-only.
    line_coins = {}
    if use_coins and coins > 0:
        line_coins = coins_allocate(
            lines=lines,
            allocations=evaluation.unit_allocations if evaluation else {},
            coins=coins,
            currency=currency,
            limit=total - card_only,
        )
    coins_applied = sum(line_coins.values())
    # What the balance may pay: everything but the card-only lines and what coins pay.
    payable_by_balance = total - card_only - coins_applied
    credit_applied, balance_applied = 0, 0
    if use_balance and payable_by_balance > 0:
        if credit_lots:
            payable = balance_payable_by_category(
                lines=lines,
                payable=_payable_by_category(lines, evaluation, shipping),
                line_coins=line_coins,
            )
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
        amount_due=total - balance_applied - coins_applied,
        discounts=list(discounts),
        shipping_line=chosen,
        shipping_options=options,
        evaluation=evaluation,
        credit_applied=credit_applied,
        gift_cards=list(gift_cards),
        coins_balance=max(coins, 0),
        coins_available=coins_value(coins=max(coins, 0), currency=currency),
        use_coins=use_coins,
        coins_applied=coins_applied,
        coins_spent=coins_for_value(value=coins_applied, currency=currency),
        line_coins=line_coins,
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
