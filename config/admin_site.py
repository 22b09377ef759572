"""The shop's admin site: Django's, with one rule changed for every registered model.

Django's admin answers a change page for a missing or malformed id (`/admin/…/abc/change/`)
with a redirect to the admin index and a message. Our interface (docs/interface.md §9) says
a malformed id in any URL is a 404, so every model admin registered here — ours and the
libraries' (allauth, auth groups) — answers 404 instead, from this one place.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import Http404
from django.urls import reverse


def _not_found(request, opts, object_id):
    raise Http404(f"No {opts.verbose_name} with that id.")


# Section and model names as staff read them in the index and the sidebar, for the apps whose
# names are not ours to set: allauth's "account" app would be a second "Accounts" section
# beside the shoppers, and the wallet's ledger accounts a third.
APP_NAMES = {"account": "Sign-in e-mail addresses", "mfa": "Two-factor authentication"}
MODEL_NAMES = {("wallet", "account"): "Ledger accounts"}


class CoinpurseAdminSite(admin.AdminSite):
    site_header = "Coinpurse staff admin"
    site_title = "Coinpurse staff admin"
    index_title = "Shop administration"
    index_template = "admin/coinpurse/index.html"
    # The sidebar repeats the index and takes a quarter of a 1280 px screen from every list;
    # the breadcrumbs and the index lead everywhere it did.
    enable_nav_sidebar = False

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            app["name"] = APP_NAMES.get(app["app_label"], app["name"])
            for model in app["models"]:
                key = (app["app_label"], model["object_name"].lower())
                model["name"] = MODEL_NAMES.get(key, model["name"])
        return app_list

    def index(self, request, extra_context=None):
        """The index, headed by what waits for this staff member's approval: each model admin
        with a `waiting_for(request, queryset)` (batches, balance adjustments) gives a count
        and a link to its list filtered by `?waiting_for_me=1`."""
        waiting = []
        for model, model_admin in self._registry.items():
            if not hasattr(model_admin, "waiting_for") or not model_admin.has_view_permission(
                request
            ):
                continue
            rows = model_admin.waiting_for(request, model_admin.get_queryset(request))
            if rows.query.is_empty():  # the user may not approve these at all
                continue
            opts = model._meta
            waiting.append(
                {
                    "name": opts.verbose_name_plural,
                    "model_name": opts.model_name,
                    "count": rows.count(),
                    "url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
                    + "?waiting_for_me=1",
                }
            )
        context = {"waiting_for_me": sorted(waiting, key=lambda row: row["name"])}
        return super().index(request, {**context, **(extra_context or {})})

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
