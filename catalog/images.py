"""Product illustrations: the demo catalog ships one small SVG per product under
static/img/products/<slug>.svg; any other product shows a neutral parcel."""

from functools import cache
from pathlib import Path

from django.conf import settings

PRODUCT_IMAGE_DIR = "img/products"
PLACEHOLDER = "img/product-placeholder.svg"


@cache
def _shipped() -> frozenset[str]:
    """Slugs that have an illustration, read once per process from the source static folder
    (collectstatic copies the same files; nothing is looked up per request)."""
    folder = Path(settings.BASE_DIR) / "static" / PRODUCT_IMAGE_DIR
    return frozenset(path.stem for path in folder.glob("*.svg"))


def product_image_path(slug: str) -> str:
    """The static path of a product's illustration, for `{% static %}`."""
    return f"{PRODUCT_IMAGE_DIR}/{slug}.svg" if slug in _shipped() else PLACEHOLDER
