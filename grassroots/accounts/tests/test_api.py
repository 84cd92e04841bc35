from __future__ import annotations

import io
import json
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from grassroots.accounts.models import ApiToken, AuditLog, User
from grassroots.accounts.services import api_token_create, api_token_revoke
from grassroots.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory, bearer_headers

API = "/api/v1/accounts"
TOKEN_FORMAT = re.compile(r"gr_[0-9a-f]{10}_[A-Za-z0-9_-]{43}")


def post_json(client, path, data, **extra):
    return client.post(f"{API}{path}", data=json.dumps(data), content_type="application/json", **extra)


def png_bytes(width=600, height=400):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 40)).save(out, format="PNG")
    return out.getvalue()


# Sign-up -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_signup_creates_member_with_own_invite_code(client):
    response = post_json(
        client, "/signup", {"email": " New@Example.COM ", "password": "a-long-enough-pass", "display_name": "Mei"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["display_name"] == "Mei"
    assert re.fullmatch(r"[A-Z2-9]{8}", body["invite_code"])
    user = User.objects.get(email="new@example.com")
    assert user.check_password("a-long-enough-pass")
    assert user.invite_code == body["invite_code"]
    assert user.invite_code_used == ""
    assert AuditLog.objects.filter(user=user, action="signup", ip_address="127.0.0.1").count() == 1


@pytest.mark.django_db
def test_signup_with_invite_code_records_inviter(client):
    inviter = UserFactory()

    response = post_json(
        client,
        "/signup",
        {
            "email": "friend@example.com",
            "password": "a-long-enough-pass",
            "display_name": "Friend",
            "invite_code": inviter.invite_code.lower(),
        },
    )

    assert response.status_code == 201
    friend = User.objects.get(email="friend@example.com")
    assert friend.invite_code_used == inviter.invite_code
    assert friend.invited_by == inviter


@pytest.mark.django_db
def test_signup_weak_password_is_422_with_fields_and_creates_nothing(client):
    response = post_json(client, "/signup", {"email": "weak@example.com", "password": "12345", "display_name": "W"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"password"}
    assert "too short" in body["fields"]["password"]
    assert not User.objects.filter(email="weak@example.com").exists()
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
def test_signup_duplicate_email_is_email_taken(client):
    UserFactory(email="taken@example.com")

    response = post_json(
        client, "/signup", {"email": "TAKEN@example.com", "password": "a-long-enough-pass", "display_name": "Again"}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "email_taken"
    assert response.json()["fields"] == {"email": "An account with this email already exists."}
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_signup_bad_email_and_missing_name_are_field_errors(client):
    response = post_json(
        client, "/signup", {"email": "not-an-email", "password": "a-long-enough-pass", "display_name": " <b></b> "}
    )

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"email", "display_name"}
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_signup_unknown_invite_code_is_rejected(client):
    response = post_json(
        client,
        "/signup",
        {"email": "x@example.com", "password": "a-long-enough-pass", "display_name": "X", "invite_code": "NOPE2345"},
    )

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"invite_code"}
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_signup_missing_field_is_422_not_500(client):
    response = post_json(client, "/signup", {"email": "x@example.com"})

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "password" in response.json()["fields"]


# Tokens ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_create_returns_the_plaintext_once_and_stores_only_its_hash(client):
    user = UserFactory(email="cli@example.com")

    response = post_json(
        client, "/tokens", {"email": "CLI@example.com", "password": DEFAULT_PASSWORD, "name": "laptop"}
    )

    assert response.status_code == 201
    body = response.json()
    plaintext = body["token"]
    assert TOKEN_FORMAT.fullmatch(plaintext)
    token = ApiToken.objects.get(pk=body["id"])
    assert token.user == user
    assert token.prefix == plaintext.split("_")[1] == body["prefix"]
    assert len(token.token_hash) == 64
    secret = plaintext.split("_", 2)[2]
    stored = [str(value) for value in ApiToken.objects.values_list("name", "prefix", "token_hash").get()]
    assert not any(secret in value or plaintext in value for value in stored)
    assert AuditLog.objects.filter(user=user, action="token_created").count() == 1

    listing = client.get(f"{API}/tokens", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert listing.status_code == 200
    assert listing.json() == [
        {
            "id": token.pk,
            "name": "laptop",
            "prefix": token.prefix,
            "created_at": listing.json()[0]["created_at"],
            "last_used_at": listing.json()[0]["last_used_at"],
        }
    ]
    assert secret not in listing.content.decode()


@pytest.mark.django_db
def test_token_create_with_wrong_password_is_401_and_audited(client):
    user = UserFactory(email="cli@example.com")

    response = post_json(client, "/tokens", {"email": "cli@example.com", "password": "wrong-password", "name": "x"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()
    assert list(AuditLog.objects.values_list("action", "user")) == [("login_failed", user.pk)]


@pytest.mark.django_db
def test_token_create_locks_out_after_max_failures(client, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "LOGIN_MAX_FAILURES": 3, "LOGIN_LOCKOUT_SECONDS": 600}
    user = UserFactory(email="victim@example.com")
    wrong = {"email": "victim@example.com", "password": "guess", "name": "x"}

    statuses = [post_json(client, "/tokens", wrong).status_code for _ in range(2)]
    locked = post_json(client, "/tokens", wrong)
    right_but_locked = post_json(client, "/tokens", {**wrong, "password": DEFAULT_PASSWORD})

    assert statuses == [401, 401]
    assert locked.status_code == 429
    assert locked["Retry-After"] == "600"
    assert locked.json()["code"] == "rate_limited"
    assert right_but_locked.status_code == 429
    assert 0 < int(right_but_locked["Retry-After"]) <= 601
    assert not ApiToken.objects.exists()
    lockout = AuditLog.objects.get(action="lockout")
    assert lockout.user == user
    assert lockout.ip_address == "127.0.0.1"
    assert lockout.detail["scopes"] == ["pair"]
    assert AuditLog.objects.filter(action="login_failed").count() == 3


@pytest.mark.django_db
def test_bearer_token_authenticates_me(client):
    user = UserFactory(email="me@example.com", display_name="Me")

    response = client.get(f"{API}/me", **bearer_headers(user))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.pk
    assert body["email"] == "me@example.com"
    assert body["avatar_url"] is None
    assert body["is_curator"] is False
    assert ApiToken.objects.get(user=user).last_used_at is not None


@pytest.mark.django_db
def test_me_without_credentials_is_401(client):
    response = client.get(f"{API}/me")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.django_db
def test_revoked_token_is_401_invalid_token(client):
    user = UserFactory()
    token, plaintext = api_token_create(user=user, name="old")
    api_token_revoke(user=user, token_id=token.pk)

    response = client.get(f"{API}/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


@pytest.mark.django_db
def test_revoking_own_token(client):
    user = UserFactory()
    token, _plaintext = api_token_create(user=user, name="old")

    response = client.delete(f"{API}/tokens/{token.pk}", **bearer_headers(user, name="admin"))

    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditLog.objects.filter(user=user, action="token_revoked", detail__token_id=token.pk).count() == 1


@pytest.mark.django_db
def test_revoking_someone_elses_token_is_404_and_changes_nothing(client):
    owner = UserFactory()
    token, plaintext = api_token_create(user=owner, name="theirs")
    intruder_headers = bearer_headers(UserFactory())

    response = client.delete(f"{API}/tokens/{token.pk}", **intruder_headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not AuditLog.objects.filter(action="token_revoked").exists()
    assert client.get(f"{API}/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 200


@pytest.mark.django_db
def test_token_list_shows_only_own_active_tokens(client, django_assert_max_num_queries):
    user = UserFactory()
    for index in range(5):
        api_token_create(user=user, name=f"t{index}")
    revoked, _ = api_token_create(user=user, name="revoked")
    api_token_revoke(user=user, token_id=revoked.pk)
    api_token_create(user=UserFactory(), name="someone else")
    headers = bearer_headers(user, name="me")

    with django_assert_max_num_queries(3):
        response = client.get(f"{API}/tokens", **headers)

    assert response.status_code == 200
    assert [row["name"] for row in response.json()] == ["me", "t4", "t3", "t2", "t1", "t0"]


# Profile -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_patch_me_changes_only_given_fields_as_plain_text(client):
    user = UserFactory(display_name="Old", bio="Keep me")

    response = client.patch(
        f"{API}/me",
        data=json.dumps({"display_name": "<b>New</b> name"}),
        content_type="application/json",
        **bearer_headers(user),
    )

    assert response.status_code == 200
    assert response.json()["display_name"] == "New name"
    user.refresh_from_db()
    assert (user.display_name, user.bio) == ("New name", "Keep me")


@pytest.mark.django_db
def test_patch_me_rejects_a_too_long_bio_and_changes_nothing(client):
    user = UserFactory(display_name="Old", bio="Keep me")

    response = client.patch(
        f"{API}/me",
        data=json.dumps({"display_name": "New", "bio": "x" * 281}),
        content_type="application/json",
        **bearer_headers(user),
    )

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"bio"}
    user.refresh_from_db()
    assert (user.display_name, user.bio) == ("Old", "Keep me")


@pytest.mark.django_db
def test_avatar_upload_stores_a_256px_jpeg(client):
    user = UserFactory()

    response = client.post(
        f"{API}/me/avatar",
        {"avatar": SimpleUploadedFile("me.png", png_bytes(), content_type="image/png")},
        **bearer_headers(user),
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert response.json()["avatar_url"] == user.avatar.url
    assert user.avatar.name.endswith(".jpg")
    with default_storage.open(user.avatar.name) as stored, Image.open(stored) as image:
        assert image.format == "JPEG"
        assert image.size == (256, 171)


@pytest.mark.django_db
def test_avatar_upload_replaces_the_old_file(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    headers = bearer_headers(user)
    client.post(f"{API}/me/avatar", {"avatar": SimpleUploadedFile("a.png", png_bytes())}, **headers)
    user.refresh_from_db()
    first = user.avatar.name

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{API}/me/avatar", {"avatar": SimpleUploadedFile("b.png", png_bytes(64, 64))}, **headers
        )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.avatar.name != first
    assert not default_storage.exists(first)
    assert default_storage.exists(user.avatar.name)


@pytest.mark.django_db
def test_avatar_upload_of_a_text_file_named_png_is_422_and_saves_nothing(client, settings):
    user = UserFactory()

    response = client.post(
        f"{API}/me/avatar",
        {"avatar": SimpleUploadedFile("evil.png", b"<?php echo 'hi'; ?>", content_type="image/png")},
        **bearer_headers(user),
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_image"
    assert response.json()["fields"] == {"avatar": "not_an_image"}
    user.refresh_from_db()
    assert not user.avatar
    assert not (settings.MEDIA_ROOT / "avatars").exists()
