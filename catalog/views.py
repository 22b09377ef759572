from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from catalog.selectors import category_list, product_get, product_list, shopper_region

PRODUCTS_PER_PAGE = 12


def _heading(categories, *, category: str | None, query: str | None, page) -> str:
    """The page's one h1 when the welcome banner is not shown: what the list is of."""
    names = {c.slug: c.name for c in categories}
    heading = names.get(category, "All products")
    if query:
        heading = f"Results for “{query}”" + (f" in {names[category]}" if category in names else "")
    return heading + (f" · page {page.number}" if page.number > 1 else "")


class ProductListView(View):
    """The storefront: products priced in the shopper's region, by category, searchable."""

    def get(self, request):
        region = shopper_region(request.user)
        category = request.GET.get("category") or None
        query = (request.GET.get("q") or "").strip()[:100] or None
        products = product_list(region_code=region.code, category_slug=category, query=query)
        page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
        categories = list(category_list())
        context = {
            "region": region,
            "categories": categories,
            "heading": _heading(categories, category=category, query=query, page=page),
            "category": category,
            "query": query or "",
            "page": page,
        }
        return render(request, "catalog/product_list.html", context)


class ProductDetailView(View):
    def get(self, request, slug):
        region = shopper_region(request.user)
        product = product_get(slug=slug, region_code=region.code)
        return render(
            request, "catalog/product_detail.html", {"product": product, "region": region}
        )
