"""The demo catalog (docs/interface.md §4): categories and products priced in every region.
Idempotent: products are matched by slug and left alone when present.

Coin packs (docs/interface.md §13) are products of the category "Coins": listed in the catalog
like any other product (the category filter finds them) and on their own page, /coins/. A
pack's price has the same digits in every currency (4.75, £4.75, 4,75 €, ¥475): one coin pays
one minor unit everywhere (wallet.units), so a pack's discount is the same in every region."""

from django.db import transaction

from catalog.models import Category, Price, Product, Region

CATEGORIES = {
    "books": "Books",
    "electronics": "Electronics",
    "home": "Home",
    "apps-games": "Apps & Games",
    "gift-cards": "Gift cards",
    "coins": "Coins",
    "essentials": "Everyday essentials",
}
# slug, name, category, kind, US price in cents, description
PRODUCTS = [
    (
        "the-pragmatic-ledger",
        "The Pragmatic Ledger",
        "books",
        "physical",
        2999,
        "Double-entry bookkeeping for programmers, with exercises.",
    ),
    (
        "django-in-depth",
        "Django in Depth",
        "books",
        "physical",
        3999,
        "From the request cycle to the ORM's query compiler.",
    ),
    (
        "tiny-habits-of-money",
        "Tiny Habits of Money",
        "books",
        "physical",
        1499,
        "Small, steady steps towards a calmer budget.",
    ),
    (
        "the-art-of-saving",
        "The Art of Saving",
        "books",
        "physical",
        1899,
        "Stories and strategies from a century of thrift.",
    ),
    (
        "noise-cancelling-headphones",
        "Noise-cancelling Headphones",
        "electronics",
        "physical",
        19999,
        "Forty hours of quiet on one charge.",
    ),
    (
        "usb-c-charger-65w",
        "USB-C Charger 65 W",
        "electronics",
        "physical",
        3999,
        "Charges a laptop and a phone at once.",
    ),
    (
        "e-reader-paperwhite",
        "E-reader, 7-inch",
        "electronics",
        "physical",
        12999,
        "A glare-free screen and weeks of battery.",
    ),
    (
        "mechanical-keyboard",
        "Mechanical Keyboard",
        "electronics",
        "physical",
        8999,
        "Hot-swappable switches, a solid aluminium case.",
    ),
    (
        "french-press",
        "French Press, 1 litre",
        "home",
        "physical",
        2499,
        "Steel filter, double-walled glass.",
    ),
    ("linen-throw", "Linen Throw", "home", "physical", 5999, "Stone-washed linen, 130 by 170 cm."),
    ("desk-lamp", "Desk Lamp", "home", "physical", 4499, "Warm to cool light, dimmable."),
    ("cast-iron-pan", "Cast-iron Pan", "home", "physical", 3499, "Pre-seasoned, 26 cm."),
    (
        "budget-planner-app",
        "Budget Planner (app)",
        "apps-games",
        "digital",
        499,
        "Plan a month in five minutes. Delivered at once.",
    ),
    (
        "puzzle-quest",
        "Puzzle Quest (game)",
        "apps-games",
        "digital",
        999,
        "Two hundred hand-made puzzles.",
    ),
    (
        "photo-editor-pro",
        "Photo Editor Pro (app)",
        "apps-games",
        "digital",
        2999,
        "Layers, masks and RAW support.",
    ),
    (
        "space-trader",
        "Space Trader (game)",
        "apps-games",
        "digital",
        1999,
        "Buy low, sell high, among the stars.",
    ),
    (
        "gift-card-25",
        "Gift card, 25",
        "gift-cards",
        "gift_card",
        2500,
        "A gift card to e-mail on the day you choose, or to print: pick its amount and design.",
    ),
    (
        "gift-card-50",
        "Gift card, 50",
        "gift-cards",
        "gift_card",
        5000,
        "A gift card to e-mail on the day you choose, or to print: pick its amount and design.",
    ),
    *(
        (
            slug,
            name,
            "coins",
            "coin_pack",
            price,
            "Coins for apps and games, paid by card and in your wallet once paid. Coins pay "
            "for digital items on their own at checkout.",
        )
        for slug, name, price in [
            ("coins-500", "Coins, 500", 475),
            ("coins-1000", "Coins, 1,000", 900),
            ("coins-2500", "Coins, 2,500", 2125),
            ("coins-5000", "Coins, 5,000 + 500 bonus", 4250),
        ]
    ),
    (
        "coffee-beans-1kg",
        "Coffee Beans, 1 kg",
        "essentials",
        "physical",
        1899,
        "Medium roast, whole beans. Subscribe & Save and never run out.",
    ),
    (
        "dish-soap-refill",
        "Dish Soap Refill, 2 litres",
        "essentials",
        "physical",
        799,
        "Plant-based and unscented; refills the bottle you already have.",
    ),
    (
        "printer-paper-500",
        "Printer Paper, 500 sheets",
        "essentials",
        "physical",
        999,
        "A4 / Letter, 80 g/m², for the home office.",
    ),
    (
        "aa-batteries-24",
        "AA Batteries, pack of 24",
        "essentials",
        "physical",
        1499,
        "Long-life alkaline cells for remotes, clocks and toys.",
    ),
]
# Products a shopper may Subscribe & Save (docs/subscriptions.md): the everyday essentials and
# one book (a reader may want a copy every few months, to give away).
SUBSCRIBABLE = {
    "coffee-beans-1kg",
    "dish-soap-refill",
    "printer-paper-500",
    "aa-batteries-24",
    "tiny-habits-of-money",
}
# A coin pack's (coins, bonus coins); its price above is the same digits in every currency.
COIN_PACKS = {
    "coins-500": (500, 0),
    "coins-1000": (1000, 0),
    "coins-2500": (2500, 0),
    "coins-5000": (5000, 500),
}


def _regional_price(us_cents: int, currency: str, *, kind: str = "physical") -> int:
    """Demo prices per currency from the US price, in integers: x.99 stays x.99; yen in tens.
    A coin pack costs the same digits everywhere (its coins are worth a minor unit each)."""
    if kind == "coin_pack":
        return us_cents
    if currency == "JPY":
        return (us_cents * 3 // 2 + 5) // 10 * 10  # 2999 cents → ¥4,500
    percent = {"USD": 100, "GBP": 80, "EUR": 92}[currency]
    whole = us_cents * percent // 100 // 100
    return whole * 100 + 99 if us_cents % 100 == 99 else whole * 100


def catalog_seed() -> int:
    """Create the demo categories and products with a price in every region; returns how many
    products were created."""
    created = 0
    with transaction.atomic():
        categories = {
            slug: Category.objects.get_or_create(slug=slug, defaults={"name": name})[0]
            for slug, name in CATEGORIES.items()
        }
        regions = list(Region.objects.all())
        for slug, name, category, kind, us_cents, description in PRODUCTS:
            product, was_created = Product.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "category": categories[category],
                    "kind": kind,
                    "description": description,
                    "coins": COIN_PACKS.get(slug, (0, 0))[0],
                    "bonus_coins": COIN_PACKS.get(slug, (0, 0))[1],
                    "subscribable": slug in SUBSCRIBABLE,
                },
            )
            created += was_created
            for region in regions:
                Price.objects.get_or_create(
                    product=product,
                    region=region,
                    defaults={"amount": _regional_price(us_cents, region.currency, kind=kind)},
                )
    return created
