from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from grassroots.accounts.models import ApiToken, AuditLog, User
from grassroots.accounts.services import api_token_create
from grassroots.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory


def png_bytes():
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 128, 0)).save(out, format="PNG")
    return out.getvalue()


def signed_in_id(client):
    return client.session.get("_auth_user_id")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/signup/",
        "/accounts/login/",
        "/accounts/password/reset/",
        "/accounts/password/reset/sent/",
        "/accounts/password/reset/done/",
    ],
)
def test_public_pages_render(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert b"<form" in response.content or path.endswith(("sent/", "done/"))


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/profile/", "/accounts/tokens/", "/accounts/password/"])
def test_member_pages_render_for_members_and_redirect_others(client, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/accounts/login/?next={path}"

    client.force_login(UserFactory())
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_signup_form_creates_the_user_and_signs_them_in(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "web@example.com", "display_name": "Web", "password": "a-long-enough-pass", "invite_code": ""},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="web@example.com")
    assert signed_in_id(client) == str(user.pk)
    assert list(AuditLog.objects.filter(user=user).values_list("action", flat=True).order_by("id")) == [
        "signup",
        "login_ok",
    ]
    profile = client.get("/accounts/profile/")
    assert user.invite_code.encode() in profile.content
    assert f"/accounts/signup/?invite={user.invite_code}".encode() in profile.content


@pytest.mark.django_db
def test_signup_page_prefills_the_invite_code_and_honours_next(client):
    inviter = UserFactory()

    page = client.get(f"/accounts/signup/?invite={inviter.invite_code}&next=/accounts/tokens/")
    assert f'value="{inviter.invite_code}"'.encode() in page.content

    response = client.post(
        "/accounts/signup/",
        {
            "email": "invited@example.com",
            "display_name": "Invited",
            "password": "a-long-enough-pass",
            "invite_code": inviter.invite_code,
            "next": "/accounts/tokens/",
        },
    )
    assert response["Location"] == "/accounts/tokens/"
    assert User.objects.get(email="invited@example.com").invited_by == inviter


@pytest.mark.django_db
def test_signup_form_shows_service_errors_on_fields(client):
    UserFactory(email="taken@example.com")

    response = client.post(
        "/accounts/signup/", {"email": "taken@example.com", "display_name": "Again", "password": "a-long-enough-pass"}
    )

    assert response.status_code == 200
    assert b"An account with this email already exists." in response.content
    assert User.objects.count() == 1
    assert signed_in_id(client) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/accounts/tokens/", "/accounts/tokens/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("", "/"),
    ],
)
def test_login_redirects_to_safe_next_only(client, next_url, expected):
    user = UserFactory(email="in@example.com")

    response = client.post(
        f"/accounts/login/?next={next_url}", {"email": "in@example.com", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == expected
    assert signed_in_id(client) == str(user.pk)


@pytest.mark.django_db
def test_login_with_a_wrong_password_shows_an_error(client):
    UserFactory(email="in@example.com")

    response = client.post("/accounts/login/", {"email": "in@example.com", "password": "nope"})

    assert response.status_code == 200
    assert b"The email or password is not correct." in response.content
    assert signed_in_id(client) is None


@pytest.mark.django_db
def test_login_page_lockout_is_429_with_retry_after(client, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "LOGIN_MAX_FAILURES": 2, "LOGIN_LOCKOUT_SECONDS": 120}
    UserFactory(email="in@example.com")
    client.post("/accounts/login/", {"email": "in@example.com", "password": "nope"})

    response = client.post("/accounts/login/", {"email": "in@example.com", "password": "nope"})

    assert response.status_code == 429
    assert response["Retry-After"] == "120"
    assert b"Too many failed attempts" in response.content
    assert AuditLog.objects.filter(action="lockout").count() == 1


@pytest.mark.django_db
def test_logout_is_post_only(client):
    user = UserFactory()
    client.force_login(user)

    assert client.get("/accounts/logout/").status_code == 405
    assert signed_in_id(client) == str(user.pk)

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert signed_in_id(client) is None
    assert AuditLog.objects.filter(user=user, action="logout").count() == 1


@pytest.mark.django_db
def test_profile_form_saves_name_bio_and_avatar(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(
        "/accounts/profile/",
        {"display_name": "Renamed", "bio": "I like tea.", "avatar": SimpleUploadedFile("a.png", png_bytes())},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.bio) == ("Renamed", "I like tea.")
    assert user.avatar.name.startswith("avatars/")


@pytest.mark.django_db
def test_profile_form_rejects_a_fake_image_and_saves_nothing(client, settings):
    user = UserFactory(display_name="Before")
    client.force_login(user)

    response = client.post(
        "/accounts/profile/",
        {"display_name": "After", "bio": "", "avatar": SimpleUploadedFile("a.png", b"just text")},
    )

    assert response.status_code == 200
    assert b"The file is not a JPEG, PNG, WebP or GIF image." in response.content
    user.refresh_from_db()
    assert user.display_name == "Before"
    assert not user.avatar
    assert not (settings.MEDIA_ROOT / "avatars").exists()


@pytest.mark.django_db
def test_tokens_page_shows_a_new_token_once_and_revokes(client):
    user = UserFactory()
    client.force_login(user)

    created = client.post("/accounts/tokens/", {"name": "script"})

    assert created.status_code == 200
    plaintext = re.search(rb"gr_[0-9a-f]{10}_[A-Za-z0-9_-]{43}", created.content).group().decode()
    token = ApiToken.objects.get(user=user)
    assert token.prefix in plaintext
    listing = client.get("/accounts/tokens/")
    assert plaintext.encode() not in listing.content
    assert f"gr_{token.prefix}_".encode() in listing.content

    revoked = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_tokens_page_cannot_revoke_someone_elses_token(client):
    token, _plaintext = api_token_create(user=UserFactory(), name="theirs")
    client.force_login(UserFactory())

    response = client.post(f"/accounts/tokens/{token.pk}/revoke/")

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_password_change_page_keeps_this_session(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(
        "/accounts/password/",
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password": "brand-new-secret-77",
            "new_password_again": "brand-new-secret-77",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-secret-77")
    assert client.get("/accounts/profile/").status_code == 200


@pytest.mark.django_db
def test_password_change_page_mismatch_changes_nothing(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(
        "/accounts/password/",
        {"old_password": DEFAULT_PASSWORD, "new_password": "brand-new-secret-77", "new_password_again": "other"},
    )

    assert response.status_code == 200
    assert b"The two passwords differ." in response.content
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_password_reset_by_email_end_to_end(client):
    user = UserFactory(email="forgot@example.com")

    sent = client.post("/accounts/password/reset/", {"email": "forgot@example.com"})
    assert sent["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert form_page.context["validlink"] is True
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "recovered-secret-42", "new_password2": "recovered-secret-42"},
    )

    assert done["Location"] == "/accounts/password/reset/done/"
    user.refresh_from_db()
    assert user.check_password("recovered-secret-42")
    assert AuditLog.objects.filter(user=user, action="password_changed", detail__via="reset").count() == 1


@pytest.mark.django_db
def test_password_reset_for_an_unknown_email_sends_nothing_but_looks_the_same(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


@pytest.mark.django_db
def test_admin_pages_render_for_staff(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    token, _plaintext = api_token_create(user=admin, name="t")
    client.force_login(admin)

    for path in (
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        f"/admin/accounts/user/{admin.pk}/change/",
        "/admin/accounts/apitoken/",
        f"/admin/accounts/apitoken/{token.pk}/change/",
        "/admin/accounts/auditlog/",
    ):
        assert client.get(path).status_code == 200, path


@pytest.mark.django_db
def test_admin_creates_a_user_with_an_invite_code(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Staff-Made@Example.com",
            "display_name": "Made",
            "usable_password": "true",
            "password1": "a-long-enough-pass",
            "password2": "a-long-enough-pass",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="staff-made@example.com")
    assert user.invite_code
    assert user.check_password("a-long-enough-pass")
