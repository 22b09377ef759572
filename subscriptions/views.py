"""Subscribe & Save pages (docs/subscriptions.md). Being written (issue 12)."""

from django.http import Http404
from django.views import View


class _Pending(View):
    def dispatch(self, request, *args, **kwargs):
        raise Http404


SubscriptionListView = SubscriptionSkipView = SubscriptionPauseView = _Pending
SubscriptionResumeView = SubscriptionCancelView = SubscriptionChangeView = _Pending
