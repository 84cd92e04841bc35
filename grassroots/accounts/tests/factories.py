from __future__ import annotations

import factory
from django.contrib.auth.models import Permission

from grassroots.accounts.models import User, new_invite_code

DEFAULT_PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    display_name = factory.Sequence(lambda n: f"User {n}")
    invite_code = factory.LazyFunction(new_invite_code)
    handle = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            obj.save()


class CuratorFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def curator_permission(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            obj.user_permissions.add(Permission.objects.get(codename="curator", content_type__app_label="accounts"))


def bearer_headers(user: User, *, name: str = "tests") -> dict[str, str]:
    """Django test-client kwargs that authenticate as `user` with a fresh personal access token:
    `client.get(url, **bearer_headers(user))`."""
    from grassroots.accounts.services import api_token_create

    _token, plaintext = api_token_create(user=user, name=name)
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
