"""Catalog test data: categories, products and their prices per region (factory-boy).

`ProductFactory(prices={"US": 2999, "JP": 4500})` prices a product in those regions only;
without `prices` it is priced in every region at `EVERY_REGION`.
"""

import factory

from catalog.models import Category, Price, Product

# The demo catalog's prices of a $29.99 product in every region (docs/interface.md §3 currencies).
EVERY_REGION = {"US": 2999, "GB": 2399, "FR": 2799, "DE": 2799, "JP": 4500}


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Product {n:03d}")
    slug = factory.Sequence(lambda n: f"product-{n:03d}")
    category = factory.SubFactory(CategoryFactory)
    # Digital unless a test says otherwise: the tests written before shipping existed price
    # carts without it; shipping tests ask for `kind=Product.Kind.PHYSICAL`.
    kind = Product.Kind.DIGITAL
    description = "A thing worth buying."

    @factory.post_generation
    def prices(obj, create, extracted, **kwargs):
        """`prices={"US": 2999}`: priced in those regions only; omitted: `EVERY_REGION`."""
        if not create:
            return
        for region_code, amount in (EVERY_REGION if extracted is None else extracted).items():
            PriceFactory(product=obj, region_id=region_code, amount=amount)


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    product = factory.SubFactory(ProductFactory, prices={})
    region_id = "US"
    amount = 2999
