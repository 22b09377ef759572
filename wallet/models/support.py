"""Shoppers asking for help: reports about an activity row, and the contact form of /help/."""

from django.conf import settings
from django.db import models

from wallet.models.ledger import Posting


class ActivityReport(models.Model):
    """A shopper's "Report a problem" about one row of their wallet activity."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        INVESTIGATING = "investigating", "Investigating"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activity_reports"
    )
    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="reports")
    message = models.TextField(max_length=2000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    # Staff's answer, shown to the shopper on their report's page.
    reply = models.TextField(max_length=2000, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One report per activity row and shopper: the service refuses a second one, and
            # this stands behind it when two arrive at once.
            models.UniqueConstraint(
                fields=["posting", "user"], name="wallet_activityreport_one_per_posting_user"
            ),
        ]

    def __str__(self):
        return f"Report #{self.pk} by {self.user}"


class SupportRequest(models.Model):
    """A message sent through the contact form of /help/, by a shopper or a visitor."""

    class Topic(models.TextChoices):
        GIFT_CARD = "gift_card", "A gift card"
        BALANCE = "balance", "My balance"
        ORDER = "order", "An order or a delivery"
        ACCOUNT = "account", "Signing in or my account"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        NEW = "new", "New"
        IN_PROGRESS = "in_progress", "In progress"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_requests",
    )
    name = models.CharField(max_length=100)
    email = models.EmailField()
    topic = models.CharField(max_length=16, choices=Topic.choices)
    message = models.TextField(max_length=4000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Support request #{self.pk} from {self.email}"
