"""The gift card designs the shop ships: how each looks on the buy page, the order page, the
recipient's e-mail and the printed PDF (one source, so the four agree).

A design is data, not an image file: colours (hex, so HTML e-mail, CSS and reportlab all take
them), a headline and a motif drawn with plain characters. The keys are
`checkout.models.GiftCardDesign`'s; a key missing here falls back to the classic design, so a
row written by an older release still renders.
"""

from dataclasses import dataclass

from checkout.models import GiftCardDesign


@dataclass(frozen=True)
class Design:
    key: str
    label: str  # the picker's name ("Happy birthday")
    headline: str  # the big words on the card
    background: str  # the card's colour
    foreground: str  # text on `background` (contrast ≥ 4.5:1 against it)
    accent: str  # the band and the amount's colour on white
    # A few characters across the band of HTML (pages and e-mail). The PDF's standard fonts
    # lack them, so it draws `shape` instead ("diamonds", "stars", "petals", "confetti").
    motif: str
    shape: str


DESIGNS: dict[str, Design] = {
    GiftCardDesign.CLASSIC: Design(
        key=GiftCardDesign.CLASSIC,
        label=GiftCardDesign.CLASSIC.label,
        headline="A gift for you",
        background="#1f3b5c",
        foreground="#ffffff",
        accent="#c9a227",
        motif="◆ ◇ ◆ ◇ ◆",
        shape="diamonds",
    ),
    GiftCardDesign.BIRTHDAY: Design(
        key=GiftCardDesign.BIRTHDAY,
        label=GiftCardDesign.BIRTHDAY.label,
        headline="Happy birthday!",
        background="#8a1c4a",
        foreground="#ffffff",
        accent="#f2a900",
        motif="★ ✦ ★ ✦ ★",
        shape="stars",
    ),
    GiftCardDesign.THANKS: Design(
        key=GiftCardDesign.THANKS,
        label=GiftCardDesign.THANKS.label,
        headline="Thank you",
        background="#1d5c3a",
        foreground="#ffffff",
        accent="#8fd19e",
        motif="❀ ❀ ❀ ❀ ❀",
        shape="petals",
    ),
    GiftCardDesign.CELEBRATE: Design(
        key=GiftCardDesign.CELEBRATE,
        label=GiftCardDesign.CELEBRATE.label,
        headline="Let's celebrate",
        background="#4b2a83",
        foreground="#ffffff",
        accent="#ff7a59",
        motif="✺ ✧ ✺ ✧ ✺",
        shape="confetti",
    ),
}

DEFAULT_DESIGN = GiftCardDesign.CLASSIC


def design_get(key: str) -> Design:
    """The design of `key`, or the classic one for a key the shop no longer ships."""
    return DESIGNS.get(key, DESIGNS[DEFAULT_DESIGN])


def design_list() -> list[Design]:
    """Every design, in the picker's order (the model's choices)."""
    return [DESIGNS[key] for key in GiftCardDesign.values if key in DESIGNS]
