from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Stores the region chosen at sign-up in the same save as the rest of the new user."""

    def save_user(self, request, user, form, commit=True):
        region = form.cleaned_data.get("region")
        if region is not None:
            user.region = region
        return super().save_user(request, user, form, commit=commit)
