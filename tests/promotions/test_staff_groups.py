"""The promotions staff groups: managers change promotions, approvers (others) approve them,
and neither group alone both changes and approves."""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def _codenames(name):
    return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))


def test_managers_change_promotions_but_cannot_approve_them():
    perms = _codenames("Promotion managers")
    assert {"add_promotion", "change_promotion", "view_promotion"} <= perms
    assert "approve_promotion" not in perms


def test_approvers_approve_but_cannot_change_terms():
    perms = _codenames("Promotion approvers")
    assert "approve_promotion" in perms
    assert not perms & {"add_promotion", "change_promotion"}
