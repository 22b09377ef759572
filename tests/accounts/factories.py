import factory

from accounts.models import User

PASSWORD = "correct-horse-2026"


class UserFactory(factory.django.DjangoModelFactory):
    """A shopper in a region (US unless `region_id=` says otherwise), password `PASSWORD`."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    region_id = "US"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()
