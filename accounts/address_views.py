"""The shopper's address book pages, `/account/addresses/` (docs/interface.md §10)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views import View

from accounts.addresses import (
    address_create,
    address_default_set,
    address_delete,
    address_get_for_user,
    address_list_for_user,
    address_update,
)
from accounts.forms import AddressForm


def _form(request, *, data=None, instance=None) -> AddressForm:
    return AddressForm(data, instance=instance, region_code=request.user.region_id)


class AddressListView(LoginRequiredMixin, View):
    """The list, and the form that adds one (POST here)."""

    def get(self, request):
        return self._page(request, form=_form(request))

    def post(self, request):
        form = _form(request, data=request.POST)
        if not form.is_valid():
            return self._page(request, form=form, status=400)
        address_create(
            user=request.user,
            data=form.cleaned_data,
            make_default=request.POST.get("make_default") == "on",
        )
        messages.success(request, "Address saved.")
        return redirect("accounts:addresses")

    @staticmethod
    def _page(request, *, form, status=200):
        context = {"addresses": address_list_for_user(user=request.user), "form": form}
        return render(request, "accounts/address_list.html", context, status=status)


class AddressEditView(LoginRequiredMixin, View):
    def get(self, request, pk):
        address = address_get_for_user(user=request.user, address_id=pk)
        return self._page(request, address=address, form=_form(request, instance=address))

    def post(self, request, pk):
        address = address_get_for_user(user=request.user, address_id=pk)
        form = _form(request, data=request.POST, instance=address)
        if not form.is_valid():
            return self._page(request, address=address, form=form, status=400)
        address_update(user=request.user, address_id=pk, data=form.cleaned_data)
        messages.success(request, "Address updated.")
        return redirect("accounts:addresses")

    @staticmethod
    def _page(request, *, address, form, status=200):
        context = {"address": address, "form": form}
        return render(request, "accounts/address_edit.html", context, status=status)


class _PostOnly(LoginRequiredMixin, View):
    """A GET names an address too: someone else's (or none) is a 404 first, as everywhere
    (docs/interface.md §9), then 405 for one's own."""

    def get(self, request, pk):
        address_get_for_user(user=request.user, address_id=pk)
        return HttpResponseNotAllowed(["POST"])


class AddressDeleteView(_PostOnly):
    def post(self, request, pk):
        address_delete(user=request.user, address_id=pk)
        messages.success(request, "Address deleted.")
        return redirect("accounts:addresses")


class AddressDefaultView(_PostOnly):
    def post(self, request, pk):
        address_default_set(user=request.user, address_id=pk)
        messages.success(request, "Default address changed.")
        return redirect("accounts:addresses")
