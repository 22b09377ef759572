from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from catalog.selectors import category_list, product_get, product_list, shopper_region

PRODUCTS_PER_PAGE = 12


class ProductListView(View):
    """The storefront: products priced in the shopper's region, by category, searchable."""

    def get(self, request):
        region = shopper_region(request.user)
        category = request.GET.get("category") or None
        query = (request.GET.get("q") or "").strip()[:100] or None
        products = product_list(region_code=region.code, category_slug=category, query=query)
        page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            "region": region,
            "categories": category_list(),
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
