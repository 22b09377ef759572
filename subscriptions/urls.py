from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from subscriptions import views

app_name = "subscriptions"

# The pages show what the shopper's orders cost and link to them: never cached
# (`never_cache` sends `Cache-Control: max-age=0, no-cache, no-store, must-revalidate,
# private`). Starting a subscription may carry a card number: never in an error report.
urlpatterns = [
    path(
        "",
        never_cache(sensitive_post_parameters("card_number")(views.SubscriptionListView.as_view())),
        name="list",
    ),
    path(
        "card/",
        never_cache(sensitive_post_parameters("card_number")(views.SubscriptionCardView.as_view())),
        name="card",
    ),
    path(
        "<int:subscription_id>/skip/",
        never_cache(views.SubscriptionSkipView.as_view()),
        name="skip",
    ),
    path(
        "<int:subscription_id>/pause/",
        never_cache(views.SubscriptionPauseView.as_view()),
        name="pause",
    ),
    path(
        "<int:subscription_id>/resume/",
        never_cache(views.SubscriptionResumeView.as_view()),
        name="resume",
    ),
    path(
        "<int:subscription_id>/cancel/",
        never_cache(views.SubscriptionCancelView.as_view()),
        name="cancel",
    ),
    path(
        "<int:subscription_id>/change/",
        never_cache(views.SubscriptionChangeView.as_view()),
        name="change",
    ),
]
