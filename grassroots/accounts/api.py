"""Accounts API: sign-up, personal access tokens, the caller's own profile."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import File, Router, Schema, UploadedFile

from grassroots.accounts.models import ApiToken, User
from grassroots.accounts.selectors import api_tokens_for
from grassroots.accounts.services import (
    api_token_create,
    api_token_revoke,
    client_ip,
    user_credentials_check,
    user_profile_update,
    user_signup,
)
from grassroots.attribution.services import binding_on_signup
from grassroots.core.api_schemas import ErrorOut

router = Router(tags=["accounts"])


class SignupIn(Schema):
    email: str
    password: str
    display_name: str
    invite_code: str = ""


class MeOut(Schema):
    id: int
    email: str
    display_name: str
    bio: str
    avatar_url: str | None
    invite_code: str | None
    is_curator: bool
    date_joined: datetime

    @staticmethod
    def resolve_avatar_url(obj: User) -> str | None:
        return obj.avatar.url if obj.avatar else None


class MeIn(Schema):
    display_name: str | None = None
    bio: str | None = None


class TokenCreateIn(Schema):
    email: str
    password: str
    name: str


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by api_auth
    return user


@router.post("/signup", auth=None, response={201: MeOut, 422: ErrorOut, 429: ErrorOut})
def signup(request: HttpRequest, payload: SignupIn) -> tuple[int, User]:
    """Create an account. Then get a token with `POST /tokens`."""
    user = user_signup(
        email=payload.email,
        password=payload.password,
        display_name=payload.display_name,
        invite_code=payload.invite_code,
        ip_address=client_ip(request),
    )
    binding_on_signup(user=user, visitor_key=request.COOKIES.get("gr_vid"))
    return 201, user


@router.post("/tokens", auth=None, response={201: TokenCreatedOut, 401: ErrorOut, 422: ErrorOut, 429: ErrorOut})
def token_create(request: HttpRequest, payload: TokenCreateIn) -> tuple[int, TokenCreatedOut]:
    """Exchange email and password for a personal access token, shown only in this response.

    Send it as `Authorization: Bearer <token>`. Repeated failures lock the account and address."""
    user = user_credentials_check(request=request, email=payload.email, password=payload.password)
    token, plaintext = api_token_create(user=user, name=payload.name, ip_address=client_ip(request))
    return 201, TokenCreatedOut(
        id=token.pk,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        token=plaintext,
    )


@router.get("/tokens", response={200: list[TokenOut], 401: ErrorOut})
def token_list(request: HttpRequest) -> list[ApiToken]:
    """Your active tokens (never their secrets)."""
    return list(api_tokens_for(user=_me(request)))


@router.delete("/tokens/{token_id}", response={204: None, 401: ErrorOut, 404: ErrorOut})
def token_revoke(request: HttpRequest, token_id: int) -> tuple[int, None]:
    api_token_revoke(user=_me(request), token_id=token_id, ip_address=client_ip(request))
    return 204, None


@router.get("/me", response={200: MeOut, 401: ErrorOut})
def me(request: HttpRequest) -> User:
    return _me(request)


@router.patch("/me", response={200: MeOut, 401: ErrorOut, 422: ErrorOut})
def me_update(request: HttpRequest, payload: MeIn) -> User:
    """Change display name and/or bio; omitted fields stay as they are."""
    return user_profile_update(user=_me(request), display_name=payload.display_name, bio=payload.bio)


@router.post("/me/avatar", response={200: MeOut, 401: ErrorOut, 422: ErrorOut})
def me_avatar(request: HttpRequest, avatar: File[UploadedFile]) -> User:
    """Upload a JPEG, PNG, WebP or GIF; it is stored as a 256 px JPEG."""
    return user_profile_update(user=_me(request), avatar=avatar)
