"""Placeholder until its helper writes it (issue #10)."""

from django.views import View


class GiftCardPrintView(View):
    pass
