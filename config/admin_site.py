"""The shop's admin site: Django's, with one rule changed for every registered model.

Django's admin answers a change page for a missing or malformed id (`/admin/…/abc/change/`)
with a redirect to the admin index and a message. Our interface (docs/interface.md §9) says
a malformed id in any URL is a 404, so every model admin registered here — ours and the
libraries' (allauth, auth groups) — answers 404 instead, from this one place.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import Http404


def _not_found(request, opts, object_id):
    raise Http404(f"No {opts.verbose_name} with that id.")


class CoinpurseAdminSite(admin.AdminSite):
    site_header = "Coinpurse staff"
    site_title = "Coinpurse staff"
    index_title = "Shop administration"

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, admin_class, **options)
        models = (
            [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
        )
        for model in models:
            # The hook Django's change, delete and history views call when the object is not
            # found (missing, or an id its primary key cannot parse). A swapped-out model
            # (auth.User) is not registered at all.
            if model_admin := self._registry.get(model):
                model_admin._get_obj_does_not_exist_redirect = _not_found


class CoinpurseAdminConfig(AdminConfig):
    default_site = "config.admin_site.CoinpurseAdminSite"
