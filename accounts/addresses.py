"""The shopper's address book (docs/interface.md §10): reads scoped to the owner, and the writes.

Every write locks the shopper's user row first (`user_qs_select_for_update`), so two tabs
changing the default queue and the one-default constraint never fires in a shopper's face.
An address is always in the region the shopper shops in when it is saved.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404

from accounts.locks import user_qs_select_for_update
from accounts.models import Address


def address_list_for_user(*, user) -> list[Address]:
    """The shopper's addresses in their current region, the default first (one query)."""
    return list(
        Address.objects.filter(user=user, region_id=user.region_id).select_related("region")
    )


def address_get_for_user(*, user, address_id: int) -> Address:
    """One of the shopper's own addresses; another shopper's (or none) is a 404."""
    return get_object_or_404(Address.objects.select_related("region"), pk=address_id, user=user)


def address_create(*, user, data: dict, make_default: bool = False) -> Address:
    """Save a new address in the shopper's region (`data`: the cleaned fields of
    `AddressForm`). The shopper's first address, or one asked to be, becomes the default."""
    with transaction.atomic():
        user_qs_select_for_update(user_id=user.pk).get()
        has_default = Address.objects.filter(user=user, is_default=True).exists()
        if make_default and has_default:
            Address.objects.filter(user=user, is_default=True).update(is_default=False)
        return Address.objects.create(
            user=user,
            region_id=user.region_id,
            is_default=make_default or not has_default,
            **data,
        )


def address_update(*, user, address_id: int, data: dict) -> Address:
    """Change one of the shopper's addresses (orders keep the copy they shipped to)."""
    with transaction.atomic():
        user_qs_select_for_update(user_id=user.pk).get()
        address = address_get_for_user(user=user, address_id=address_id)
        for name, value in data.items():
            setattr(address, name, value)
        address.save()
        return address


def address_default_set(*, user, address_id: int) -> Address:
    """Make one of the shopper's addresses the default (the one checkout preselects)."""
    with transaction.atomic():
        user_qs_select_for_update(user_id=user.pk).get()
        address = address_get_for_user(user=user, address_id=address_id)
        Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).update(
            is_default=False
        )
        if not address.is_default:
            address.is_default = True
            address.save(update_fields=["is_default"])
        return address


def address_delete(*, user, address_id: int) -> None:
    """Delete one of the shopper's addresses; when it was the default, the oldest remaining
    one (if any) becomes the default."""
    with transaction.atomic():
        user_qs_select_for_update(user_id=user.pk).get()
        address = address_get_for_user(user=user, address_id=address_id)
        was_default = address.is_default
        address.delete()
        if was_default:
            successor = Address.objects.filter(user=user).order_by("id").first()
            if successor is not None:
                successor.is_default = True
                successor.save(update_fields=["is_default"])
