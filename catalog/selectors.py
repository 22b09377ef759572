"""Reads of the catalog, priced for one region."""

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404

from catalog.models import Category, Price, Product, Region


def _priced(queryset, region_code: str):
    price = Price.objects.filter(product=OuterRef("pk"), region_id=region_code).values("amount")
    return queryset.annotate(price=Subquery(price[:1])).select_related("category")


def product_list(*, region_code: str, category_slug: str | None = None, query: str | None = None):
    """Active products with `price` (minor units in the region's currency, or None when the
    product is not sold there), filtered by category and a name/description search."""
    products = Product.objects.filter(is_active=True)
    if category_slug:
        products = products.filter(category__slug=category_slug)
    if query:
        products = products.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return _priced(products, region_code).order_by("name", "pk")


def product_get(*, slug: str, region_code: str) -> Product:
    """One active product with its `price` in the region; 404 when there is none."""
    return get_object_or_404(
        _priced(Product.objects.filter(is_active=True), region_code), slug=slug
    )


def products_by_slug(*, slugs, region_code: str) -> dict[str, Product]:
    """Active products for these slugs, priced in the region, in one query."""
    return {
        p.slug: p
        for p in _priced(Product.objects.filter(slug__in=list(slugs), is_active=True), region_code)
    }


def category_list():
    return Category.objects.order_by("name")


def shopper_region(user) -> Region:
    """The shopper's region; a visitor shops in `DEFAULT_REGION` until they sign up."""
    if user.is_authenticated:
        return user.region
    return Region.objects.get(code=settings.DEFAULT_REGION)
