"""The staff side of promotions, by concern. Every change goes through a service of
promotions.services.staff (which checks the permission again and writes the audit entry)."""

from promotions.admin import promotions, redemptions

__all__ = ["promotions", "redemptions"]
