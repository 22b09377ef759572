"""The printable gift card: one A4 page drawn with reportlab, its QR code with segno.

The page carries the design (checkout/giftcard_designs.py), the amount, the recipient's name,
the message, the buyer's name, the code and a QR code of the redeem page's address with the
code in its fragment (`/gift-cards/redeem/#code=…`: a fragment never reaches the server or its
logs; the redeem page fills the field from it). Nothing is written anywhere: the bytes go
straight to the buyer's download (checkout/services/giftcard_print.py).
"""

import io
import math
import unicodedata
from dataclasses import dataclass

import segno
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables
from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from checkout.giftcard_designs import Design
from config.mail import site_link
from wallet.codes import code_display

LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
MONO = "Courier-Bold"
# Names and messages outside the standard fonts' Latin range (a Japanese shopper's) are drawn
# with a CID font every PDF viewer carries: no font file to ship or embed.
CJK = "HeiseiKakuGo-W5"
# The message block: lines of at most this many columns (a CJK character is two), at most
# this many lines (a 300-character message always fits).
MESSAGE_COLUMNS = 70
MESSAGE_LINES = 12


@dataclass(frozen=True)
class PrintedCard:
    """What goes on the page (all display text; `code` the only copy of the card's code)."""

    design: Design
    amount: str  # formatted money: "$50.00"
    recipient_name: str
    message: str
    sender_name: str
    code: str


def redeem_link(code: str) -> str:
    """The redeem page's absolute address with `code` in the fragment (the QR code's text),
    the code grouped as on the card: `…/gift-cards/redeem/#code=XXXX-XXXXXX-XXXXX`."""
    return site_link(reverse("wallet:redeem")) + f"#code={code_display(code)}"


@sensitive_variables("card")
def giftcard_pdf_render(*, card: PrintedCard) -> bytes:
    """The card as a one-page PDF (bytes)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"Coinpurse gift card for {card.recipient_name}")
    canvas.setAuthor("Coinpurse")
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    top = height - 20 * mm
    design = card.design

    # The card itself: the design's colour, its headline, its motif and the amount.
    card_height = 95 * mm
    card_bottom = top - card_height
    canvas.setFillColor(HexColor(design.background))
    canvas.roundRect(left, card_bottom, right - left, card_height, 6 * mm, stroke=0, fill=1)
    canvas.setFillColor(HexColor(design.accent))
    canvas.rect(left, card_bottom + 18 * mm, right - left, 6 * mm, stroke=0, fill=1)
    _motif(canvas, design, left, right, card_bottom + 21 * mm)
    canvas.setFillColor(HexColor(design.foreground))
    canvas.setFont(LATIN_BOLD, 30)
    canvas.drawString(left + 12 * mm, top - 24 * mm, _latin(design.headline))
    canvas.setFont(LATIN, 12)
    canvas.drawString(left + 12 * mm, top - 33 * mm, "Coinpurse gift card")
    canvas.setFont(LATIN_BOLD, 40)
    canvas.drawRightString(right - 12 * mm, top - 62 * mm, _latin(card.amount))
    _text(
        canvas,
        f"For {card.recipient_name}",
        left + 12 * mm,
        card_bottom + 8 * mm,
        14,
        bold=True,
        max_width=right - left - 24 * mm,
    )

    # Below the card: the message, who it is from, the code and the QR code.
    y = card_bottom - 14 * mm
    canvas.setFillColor(HexColor("#222222"))
    if card.message:
        for line in _wrapped(card.message, MESSAGE_COLUMNS):
            _text(canvas, line, left, y, 12, max_width=right - left)
            y -= 6 * mm
        y -= 2 * mm
    if card.sender_name:
        _text(canvas, f"From {card.sender_name}", left, y, 12, bold=True, max_width=right - left)
        y -= 12 * mm

    qr_size = 42 * mm
    qr_bottom = y - qr_size
    _qr(canvas, redeem_link(card.code), right - qr_size, qr_bottom, qr_size)
    canvas.setFont(LATIN, 11)
    canvas.drawString(left, y - 6 * mm, "Your gift card code")
    canvas.setFont(MONO, 20)
    canvas.drawString(left, y - 16 * mm, code_display(card.code))
    canvas.setFont(LATIN, 10)
    redeem_page = site_link(reverse("wallet:redeem"))
    for offset, line in enumerate(
        (
            "To use it, scan the QR code, or sign in at",
            redeem_page,
            "and enter the code. It adds the amount to your Coinpurse balance.",
            "Keep this card safe: whoever has the code can redeem it, once.",
        )
    ):
        canvas.drawString(left, y - (26 + 5 * offset) * mm, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """Draw `text` as a QR code `size` wide at (x, y): one dark square per module, so the
    PDF needs no image."""
    qr = segno.make(text, error="m", micro=False)
    matrix = qr.matrix
    border = 4  # the quiet zone the standard asks for, in modules
    modules = len(matrix) + 2 * border
    step = size / modules
    canvas.setFillColor(white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(HexColor("#000000"))
    for row, bits in enumerate(matrix):
        for column, bit in enumerate(bits):
            if bit:
                canvas.rect(
                    x + (column + border) * step,
                    y + size - (row + border + 1) * step,
                    step,
                    step,
                    stroke=0,
                    fill=1,
                )


def _motif(canvas: Canvas, design: Design, left: float, right: float, y: float) -> None:
    """The design's shape repeated across its band (the standard fonts lack the HTML motif's
    characters)."""
    canvas.setFillColor(HexColor(design.background))
    step = 14 * mm
    x = left + step / 2
    while x < right - step / 4:
        if design.shape == "stars":
            _star(canvas, x, y, 2.2 * mm)
        elif design.shape == "petals":
            canvas.circle(x, y, 1.8 * mm, stroke=0, fill=1)
        elif design.shape == "confetti":
            canvas.rect(x - 1.5 * mm, y - 1.5 * mm, 3 * mm, 3 * mm, stroke=0, fill=1)
        else:
            path = canvas.beginPath()
            path.moveTo(x, y + 2.2 * mm)
            path.lineTo(x + 2.2 * mm, y)
            path.lineTo(x, y - 2.2 * mm)
            path.lineTo(x - 2.2 * mm, y)
            path.close()
            canvas.drawPath(path, stroke=0, fill=1)
        x += step


def _star(canvas: Canvas, x: float, y: float, r: float) -> None:
    path = canvas.beginPath()
    for index in range(10):
        radius = r if index % 2 == 0 else r * 0.45
        angle = math.pi / 2 + index * math.pi / 5
        point = (x + radius * math.cos(angle), y + radius * math.sin(angle))
        if index == 0:
            path.moveTo(*point)
        else:
            path.lineTo(*point)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)


def _latin(text: str) -> str:
    """Text for the standard fonts: Babel's narrow no-break space (French and German amounts)
    is not in their encoding, nor the full-width yen sign of Japanese amounts (￥3,000); a
    plain no-break space and the yen sign are."""
    return text.replace("\u202f", "\u00a0").replace("\uffe5", "\u00a5")


def _text(
    canvas: Canvas,
    text: str,
    x: float,
    y: float,
    size: int,
    *,
    bold=False,
    max_width: float | None = None,
) -> None:
    """Draw shopper-written text in the standard font when it can, else in the CID font;
    within `max_width` (a long name is drawn smaller, down to 8 points, then cut with "…")."""
    text = _latin(text)
    try:
        text.encode("cp1252")
        font = LATIN_BOLD if bold else LATIN
    except UnicodeEncodeError:
        if CJK not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(CJK))
        font = CJK
    if max_width is not None:
        while size > 8 and pdfmetrics.stringWidth(text, font, size) > max_width:
            size -= 1
        while len(text) > 1 and pdfmetrics.stringWidth(text, font, size) > max_width:
            text = text[:-2] + "…"
    canvas.setFont(font, size)
    canvas.drawString(x, y, text)


def _columns(text: str) -> int:
    """How wide `text` prints, in columns: a CJK character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrapped(text: str, width: int, *, max_lines: int = MESSAGE_LINES) -> list[str]:
    """The message's lines, each at most `width` columns: its own line breaks kept, a word
    longer than a line (or text without spaces, as Japanese is) broken where it must be. When
    its line breaks would take more than `max_lines`, they become spaces, so the whole message
    is always printed (300 characters fit in `max_lines` lines of `width`)."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            while _columns(word) > width:  # break it: no line may run off the page
                cut = next(i for i in range(len(word), 0, -1) if _columns(word[:i]) <= width)
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            if line and _columns(line) + 1 + _columns(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    if len(lines) > max_lines and "\n" in text:
        return _wrapped(" ".join(text.split()), width, max_lines=max_lines)
    return lines
