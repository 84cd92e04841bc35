from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from grassroots.accounts.models import ApiToken, AuditLog, User
from grassroots.accounts.selectors import api_tokens_for, user_from_api_token, user_is_curator
from grassroots.accounts.services import (
    InvalidCredentials,
    api_token_create,
    api_token_revoke,
    client_ip,
    user_credentials_check,
    user_password_change,
    user_signup,
)
from grassroots.accounts.tests.factories import DEFAULT_PASSWORD, CuratorFactory, UserFactory
from grassroots.core.errors import NotFound, RateLimited, ValidationFailed


@pytest.fixture
def strict_login(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "LOGIN_MAX_FAILURES": 2, "LOGIN_LOCKOUT_SECONDS": 300}


def attempt(rf, email, password, ip="10.0.0.1"):
    return user_credentials_check(request=rf.post("/", REMOTE_ADDR=ip), email=email, password=password)


# Sign-in protection ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pair_lockout_does_not_lock_the_owner_out_from_another_address(rf, strict_login):
    user = UserFactory(email="a@example.com")
    with pytest.raises(InvalidCredentials):
        attempt(rf, "a@example.com", "guess", ip="10.0.0.1")
    with pytest.raises(RateLimited):
        attempt(rf, "a@example.com", "guess", ip="10.0.0.1")

    with pytest.raises(RateLimited):
        attempt(rf, "a@example.com", DEFAULT_PASSWORD, ip="10.0.0.1")
    assert attempt(rf, "a@example.com", DEFAULT_PASSWORD, ip="10.0.0.2") == user


@pytest.mark.django_db
def test_one_address_guessing_many_accounts_is_locked(rf, strict_login):
    # LOGIN_MAX_FAILURES=2, so one address may fail 8 times across accounts.
    for index in range(7):
        with pytest.raises(InvalidCredentials):
            attempt(rf, f"nobody{index}@example.com", "guess", ip="10.0.0.9")
    with pytest.raises(RateLimited):
        attempt(rf, "nobody7@example.com", "guess", ip="10.0.0.9")

    UserFactory(email="fresh@example.com")
    with pytest.raises(RateLimited):
        attempt(rf, "fresh@example.com", DEFAULT_PASSWORD, ip="10.0.0.9")
    assert attempt(rf, "fresh@example.com", DEFAULT_PASSWORD, ip="10.0.0.10").email == "fresh@example.com"
    assert AuditLog.objects.get(action="lockout").detail["scopes"] == ["ip"]


@pytest.mark.django_db
def test_one_account_guessed_from_many_addresses_is_locked(rf, strict_login):
    UserFactory(email="target@example.com")
    for index in range(7):
        with pytest.raises(InvalidCredentials):
            attempt(rf, "target@example.com", f"guess{index}", ip=f"10.1.0.{index}")
    with pytest.raises(RateLimited):
        attempt(rf, "target@example.com", "guess", ip="10.1.0.200")

    with pytest.raises(RateLimited):
        attempt(rf, "target@example.com", DEFAULT_PASSWORD, ip="10.1.1.1")


@pytest.mark.django_db
def test_success_resets_the_failure_count(rf, strict_login):
    UserFactory(email="typo@example.com")
    for _round in range(3):
        with pytest.raises(InvalidCredentials):
            attempt(rf, "typo@example.com", "typo")
        assert attempt(rf, "typo@example.com", DEFAULT_PASSWORD).email == "typo@example.com"


@pytest.mark.django_db
def test_successful_sign_ins_do_not_count_towards_a_lock(rf, strict_login):
    UserFactory(email="busy@example.com")
    for _ in range(10):
        attempt(rf, "busy@example.com", DEFAULT_PASSWORD)

    with pytest.raises(InvalidCredentials):
        attempt(rf, "busy@example.com", "typo")
    assert not AuditLog.objects.filter(action="lockout").exists()


@pytest.mark.django_db
def test_unknown_and_inactive_accounts_fail_like_a_wrong_password(rf):
    UserFactory(email="gone@example.com", is_active=False)

    for email in ("gone@example.com", "never@example.com", "nul\x00@example.com"):
        with pytest.raises(InvalidCredentials):
            attempt(rf, email, DEFAULT_PASSWORD)

    assert AuditLog.objects.filter(action="login_failed").count() == 3


def test_client_ip_trusts_forwarded_for_only_behind_configured_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "10.0.0.1"

    settings.GRASSROOTS = {**settings.GRASSROOTS, "TRUSTED_PROXIES": 1}
    assert client_ip(request) == "203.0.113.7"
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="garbage")) is None


# Sign-up -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_signup_rate_limit_per_address(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "SIGNUPS_PER_IP_PER_HOUR": 2}
    for index in range(2):
        user_signup(
            email=f"s{index}@example.com", password="a-long-enough-pass", display_name="S", ip_address="10.0.0.1"
        )

    with pytest.raises(RateLimited):
        user_signup(email="s2@example.com", password="a-long-enough-pass", display_name="S", ip_address="10.0.0.1")
    assert User.objects.count() == 2


@pytest.mark.django_db
def test_signup_password_similar_to_email_is_rejected():
    with pytest.raises(ValidationFailed) as caught:
        user_signup(email="wanderingpoet@example.com", password="wanderingpoet", display_name="Poet")

    assert set(caught.value.fields) == {"password"}
    assert not User.objects.exists()


# Password ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_password_change_checks_the_old_password_and_audits():
    user = UserFactory()

    with pytest.raises(ValidationFailed) as caught:
        user_password_change(user=user, old_password="wrong", new_password="another-long-pass")
    assert caught.value.code == "wrong_password"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)

    user_password_change(user=user, old_password=DEFAULT_PASSWORD, new_password="another-long-pass")

    user.refresh_from_db()
    assert user.check_password("another-long-pass")
    assert AuditLog.objects.filter(user=user, action="password_changed").count() == 1


@pytest.mark.django_db
def test_password_change_guessing_is_locked(strict_login):
    user = UserFactory()
    with pytest.raises(ValidationFailed):
        user_password_change(user=user, old_password="guess1", new_password="another-long-pass")
    with pytest.raises(RateLimited):
        user_password_change(user=user, old_password="guess2", new_password="another-long-pass")

    with pytest.raises(RateLimited):
        user_password_change(user=user, old_password=DEFAULT_PASSWORD, new_password="another-long-pass")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_password_change_rejects_a_weak_new_password():
    user = UserFactory()

    with pytest.raises(ValidationFailed) as caught:
        user_password_change(user=user, old_password=DEFAULT_PASSWORD, new_password="short")

    assert set(caught.value.fields) == {"new_password"}
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert not AuditLog.objects.filter(action="password_changed").exists()


# Tokens ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_lookup_is_one_query_when_recently_used(django_assert_num_queries):
    user = UserFactory()
    token, plaintext = api_token_create(user=user, name="hot")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(seconds=30))

    with django_assert_num_queries(1):
        assert user_from_api_token(token=plaintext) == user


@pytest.mark.django_db
def test_the_token_user_is_a_plain_member_without_the_token_columns():
    user = UserFactory()
    _token, plaintext = api_token_create(user=user, name="clean")

    found = user_from_api_token(token=plaintext)

    assert found == user and found is not None and found.email == user.email
    assert not [name for name in vars(found) if name.startswith("api_token")]


@pytest.mark.django_db
def test_a_revoked_token_a_wrong_secret_and_an_inactive_owner_get_nobody():
    user = UserFactory()
    token, plaintext = api_token_create(user=user, name="t")
    wrong = plaintext[:-4] + ("aaaa" if not plaintext.endswith("aaaa") else "bbbb")
    assert user_from_api_token(token=wrong) is None
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert user_from_api_token(token=plaintext) is None
    _other, live = api_token_create(user=user, name="u")
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert user_from_api_token(token=live) is None


@pytest.mark.django_db
def test_token_last_used_at_is_written_at_most_once_a_minute():
    token, plaintext = api_token_create(user=UserFactory(), name="t")
    user_from_api_token(token=plaintext)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None

    user_from_api_token(token=plaintext)
    token.refresh_from_db()
    assert token.last_used_at == first

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    user_from_api_token(token=plaintext)
    token.refresh_from_db()
    assert token.last_used_at > first


@pytest.mark.django_db
def test_token_lookup_rejects_forgeries_revoked_tokens_and_inactive_users(django_assert_num_queries):
    user = UserFactory()
    token, plaintext = api_token_create(user=user, name="t")
    prefix = plaintext.split("_")[1]

    with django_assert_num_queries(0):
        assert user_from_api_token(token="not-a-token") is None
        assert user_from_api_token(token=plaintext + "\x00") is None
    assert user_from_api_token(token=f"gr_{prefix}_{'A' * 43}") is None

    User.objects.filter(pk=user.pk).update(is_active=False)
    assert user_from_api_token(token=plaintext) is None
    User.objects.filter(pk=user.pk).update(is_active=True)
    api_token_revoke(user=user, token_id=token.pk)
    assert user_from_api_token(token=plaintext) is None


@pytest.mark.django_db
def test_token_revoke_twice_is_not_found():
    user = UserFactory()
    token, _plaintext = api_token_create(user=user, name="t")
    api_token_revoke(user=user, token_id=token.pk)

    with pytest.raises(NotFound):
        api_token_revoke(user=user, token_id=token.pk)
    assert AuditLog.objects.filter(action="token_revoked").count() == 1
    assert list(api_tokens_for(user=user)) == []


@pytest.mark.django_db
def test_token_name_is_required():
    user = UserFactory()

    with pytest.raises(ValidationFailed) as caught:
        api_token_create(user=user, name="  ")

    assert set(caught.value.fields) == {"name"}
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_user_is_curator():
    assert user_is_curator(user=CuratorFactory()) is True
    assert user_is_curator(user=UserFactory()) is False
    assert user_is_curator(user=AnonymousUser()) is False
