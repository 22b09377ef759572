from django.urls import path

from subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.SubscriptionListView.as_view(), name="list"),
    path("<int:subscription_id>/skip/", views.SubscriptionSkipView.as_view(), name="skip"),
    path("<int:subscription_id>/pause/", views.SubscriptionPauseView.as_view(), name="pause"),
    path("<int:subscription_id>/resume/", views.SubscriptionResumeView.as_view(), name="resume"),
    path("<int:subscription_id>/cancel/", views.SubscriptionCancelView.as_view(), name="cancel"),
    path("<int:subscription_id>/change/", views.SubscriptionChangeView.as_view(), name="change"),
]
