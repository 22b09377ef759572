from django.views.generic import TemplateView


class HomeView(TemplateView):
    """The storefront's front page; the catalog arrives with the checkout issue (#4)."""

    template_name = "catalog/home.html"
