"""Accounts: sign-up, sign-in with brute-force protection, profiles and personal access tokens."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from grassroots.accounts.models import ApiToken, AuditLog, User
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, RateLimited, ServiceError, ValidationFailed
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.core.text import clean_plain_text
from grassroots.core.uploads import check_image, make_thumbnail

DISPLAY_NAME_MAX = 60
BIO_MAX = 280
TOKEN_NAME_MAX = 60
MAX_ACTIVE_TOKENS = 50
AVATAR_SIZE = 256
INVITE_CODE_RE = re.compile(r"[A-Z0-9]{1,16}")
# Failures spread over many IPs (one account) or many accounts (one IP) lock at this multiple of
# LOGIN_MAX_FAILURES, so a few typos behind a shared NAT do not lock out a whole office.
SPREAD_FACTOR = 4


def _int_setting(name: str, default: int) -> int:
    """A business setting that deployments may leave out of settings.GRASSROOTS."""
    value: Any = settings.GRASSROOTS.get(name, default)
    return int(value)


class InvalidCredentials(ServiceError):
    status = 401
    code = "invalid_credentials"


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind GRASSROOTS["TRUSTED_PROXIES"] = n proxies, the address the outermost one saw."""
    proxies = _int_setting("TRUSTED_PROXIES", 0)
    candidate = request.META.get("REMOTE_ADDR", "")
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def audit_log_record(
    *, action: str, user: User | None = None, ip_address: str | None = None, detail: dict[str, Any] | None = None
) -> AuditLog:
    return AuditLog.objects.create(action=action, user=user, ip_address=ip_address, detail=detail or {})


def _normalize_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


# Brute-force protection -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Subject:
    scope: str
    key: str
    limit: int

    @property
    def counter_key(self) -> str:
        return f"authfail:{self.scope}:{self.key}"

    @property
    def lock_key(self) -> str:
        return f"authlock:{self.scope}:{self.key}"


def _login_subjects(email: str, ip: str | None) -> list[_Subject]:
    limit = int(gr_setting("LOGIN_MAX_FAILURES"))
    # Hashed: cache keys stay short and safe, and raw addresses do not sit in Redis.
    email_key = hashlib.sha256(email.encode()).hexdigest()[:32]
    ip_key = ip or "unknown"
    return [
        _Subject("pair", f"{email_key}:{ip_key}", limit),
        _Subject("email", email_key, limit * SPREAD_FACTOR),
        _Subject("ip", ip_key, limit * SPREAD_FACTOR),
    ]


def _locked_for(subjects: list[_Subject]) -> int:
    """Seconds until every lock on these subjects has expired (0: not locked)."""
    now = time.time()
    locks = cache.get_many([subject.lock_key for subject in subjects])
    return max((int(until - now) + 1 for until in locks.values() if until > now), default=0)


def _count(subjects: list[_Subject], delta: int) -> list[int]:
    """Add delta to each subject's counter and return the new counts.

    A counter lives LOGIN_LOCKOUT_SECONDS after its last change on any cache backend (the
    database cache's incr would otherwise reset the expiry to the default timeout)."""
    lockout = int(gr_setting("LOGIN_LOCKOUT_SECONDS"))
    counts = []
    for subject in subjects:
        if delta > 0:
            cache.add(subject.counter_key, 0, timeout=lockout)
        try:
            count = cache.incr(subject.counter_key, delta)
        except ValueError:  # expired meanwhile
            count = max(delta, 0)
            if count:
                cache.set(subject.counter_key, count, timeout=lockout)
        else:
            cache.touch(subject.counter_key, timeout=lockout)
        counts.append(count)
    return counts


def _lock(subjects: list[_Subject], *, user: User | None, ip: str | None, detail: dict[str, Any]) -> RateLimited:
    lockout = int(gr_setting("LOGIN_LOCKOUT_SECONDS"))
    cache.set_many({subject.lock_key: time.time() + lockout for subject in subjects}, timeout=lockout)
    cache.delete_many([subject.counter_key for subject in subjects])
    audit_log_record(
        action=AuditLog.Action.LOCKOUT,
        user=user,
        ip_address=ip,
        detail={**detail, "scopes": [subject.scope for subject in subjects], "seconds": lockout},
    )
    return _locked_error(lockout)


def _locked_error(retry_after: int) -> RateLimited:
    minutes = max(1, (retry_after + 59) // 60)
    message = ngettext(
        "Too many failed attempts. Try again in %(minutes)s minute.",
        "Too many failed attempts. Try again in %(minutes)s minutes.",
        minutes,
    ) % {"minutes": minutes}
    return RateLimited(message, retry_after=retry_after)


def user_credentials_check(*, request: HttpRequest, email: str, password: str) -> User:
    """The user with these credentials, or InvalidCredentials; RateLimited while locked out.

    Every failure is audited, whether or not the account exists, and answers the same."""
    email = _normalize_email(email)
    ip = client_ip(request)
    subjects = _login_subjects(email, ip)
    retry_after = _locked_for(subjects)
    if retry_after:
        raise _locked_error(retry_after)
    # A NUL byte cannot reach PostgreSQL; such an email matches no account anyway.
    valid_email = "\x00" not in email
    safe_email = email.replace("\x00", "")[:254]

    # Counted before the (slow) password check, so a burst of parallel guesses cannot all get in.
    counts = _count(subjects, 1)
    over = [subject for subject, count in zip(subjects, counts, strict=True) if count > subject.limit]
    if over:
        known = User.objects.filter(email=email).first() if valid_email else None
        raise _lock(over, user=known, ip=ip, detail={"email": safe_email})

    user = auth.authenticate(request, email=email, password=password) if valid_email else None
    if isinstance(user, User):
        cache.delete(subjects[0].counter_key)
        _count(subjects[1:], -1)  # a success is no failure for the account or the address either
        return user

    known = User.objects.filter(email=email).first() if valid_email else None
    audit_log_record(action=AuditLog.Action.LOGIN_FAILED, user=known, ip_address=ip, detail={"email": safe_email})
    tripped = [subject for subject, count in zip(subjects, counts, strict=True) if count >= subject.limit]
    if tripped:
        raise _lock(tripped, user=known, ip=ip, detail={"email": safe_email})
    raise InvalidCredentials(_("The email or password is not correct."))


def user_password_reset_record(*, user: User, ip_address: str | None) -> None:
    """Called once Django's reset view has set the new password. The owner has proven control of
    the inbox, so their sign-in lock is lifted (the per-IP lock stays)."""
    audit_log_record(action=AuditLog.Action.PASSWORD_CHANGED, user=user, ip_address=ip_address, detail={"via": "reset"})
    pair, by_email, _by_ip = _login_subjects(user.email, ip_address)
    cache.delete_many([pair.counter_key, pair.lock_key, by_email.counter_key, by_email.lock_key])


# Sessions ---------------------------------------------------------------------------------------


def user_session_start(*, request: HttpRequest, user: User) -> None:
    from grassroots.orders.services import cart_merge

    guest_session_key = request.session.session_key
    auth.login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    if guest_session_key:
        # A guest's cart follows them into their account (login rotates the session key).
        cart_merge(session_key=guest_session_key, user=user)
    audit_log_record(action=AuditLog.Action.LOGIN_OK, user=user, ip_address=client_ip(request))


def user_login(*, request: HttpRequest, email: str, password: str) -> User:
    user = user_credentials_check(request=request, email=email, password=password)
    user_session_start(request=request, user=user)
    return user


def user_logout(*, request: HttpRequest) -> None:
    user = request.user if request.user.is_authenticated else None
    auth.logout(request)
    if isinstance(user, User):
        audit_log_record(action=AuditLog.Action.LOGOUT, user=user, ip_address=client_ip(request))


# Sign-up and profile ----------------------------------------------------------------------------


def _email_taken() -> ValidationFailed:
    return ValidationFailed(
        _("An account with this email already exists."),
        code="email_taken",
        fields={"email": _("An account with this email already exists.")},
    )


def _clean_text(value: str, *, field: str, max_length: int, required: bool, fields: dict[str, str]) -> str:
    cleaned = clean_plain_text(value, max_length=10 * max_length)
    if required and not cleaned:
        fields[field] = _("This field is required.")
    elif len(cleaned) > max_length:
        fields[field] = _("Use at most %(max)s characters.") % {"max": max_length}
    return cleaned


def _password_problems(password: str, user: User) -> str | None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        return " ".join(exc.messages)
    return None


def user_signup(
    *, email: str, password: str, display_name: str, invite_code: str = "", ip_address: str | None = None
) -> User:
    """Create a member with their own invite code. With ip_address, sign-ups per IP are limited."""
    if ip_address:
        rate_limit_hit(
            scope="signup",
            key=ip_address,
            limit=_int_setting("SIGNUPS_PER_IP_PER_HOUR", 20),
            window_seconds=3600,
        )
    fields: dict[str, str] = {}
    email = _normalize_email(email)
    try:
        validate_email(email)
    except DjangoValidationError:
        fields["email"] = _("Enter a valid email address.")
    name = _clean_text(display_name, field="display_name", max_length=DISPLAY_NAME_MAX, required=True, fields=fields)
    code = invite_code.strip().upper()
    inviter = None
    if code:
        if INVITE_CODE_RE.fullmatch(code):
            inviter = User.objects.filter(invite_code=code, is_active=True).first()
        if inviter is None:
            fields["invite_code"] = _("This invite code does not exist.")
    problems = _password_problems(password, User(email=email, display_name=name))
    if problems:
        fields["password"] = problems
    if fields:
        raise ValidationFailed(_("Please correct the marked fields."), fields=fields)
    if User.objects.filter(email=email).exists():
        raise _email_taken()

    for _attempt in range(3):
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email, password, display_name=name, invite_code_used=code, invited_by=inviter
                )
                audit_log_record(
                    action=AuditLog.Action.SIGNUP,
                    user=user,
                    ip_address=ip_address,
                    detail={"invite_code": code} if code else {},
                )
            return user
        except IntegrityError:
            # Either the email was taken a moment ago, or (rarely) the fresh invite code collided.
            if User.objects.filter(email=email).exists():
                raise _email_taken() from None
    raise ServiceError(_("Could not create the account; please try again."), code="signup_failed", status=503)


def user_profile_update(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    avatar: UploadedFile | None = None,
) -> User:
    """Change the given parts of a profile (None leaves a part as it is); all or nothing."""
    fields: dict[str, str] = {}
    changed: list[str] = []
    if display_name is not None:
        user.display_name = _clean_text(
            display_name, field="display_name", max_length=DISPLAY_NAME_MAX, required=True, fields=fields
        )
        changed.append("display_name")
    if bio is not None:
        user.bio = _clean_text(bio, field="bio", max_length=BIO_MAX, required=False, fields=fields)
        changed.append("bio")
    thumbnail = None
    if avatar is not None:
        try:
            thumbnail = make_thumbnail(check_image(avatar, field="avatar").content, size=AVATAR_SIZE)
        except ValidationFailed as exc:
            if not fields:  # only the avatar is wrong: keep its precise code (invalid_image)
                if changed:
                    user.refresh_from_db(fields=changed)
                raise
            fields.update(exc.fields)
    if fields:
        # The instance may be the request's user: do not leave rejected values on it.
        if changed:
            user.refresh_from_db(fields=changed)
        raise ValidationFailed(_("Please correct the marked fields."), fields=fields)

    old_avatar = user.avatar.name if user.avatar else ""
    with transaction.atomic():
        if thumbnail is not None:
            user.avatar.save(f"{uuid.uuid4().hex}.jpg", thumbnail, save=False)
            changed.append("avatar")
        if changed:
            user.save(update_fields=changed)
        if "display_name" in changed:
            from grassroots.feeds.services import feed_card_invalidate_authors

            author_id = user.pk
            transaction.on_commit(lambda: feed_card_invalidate_authors(author_ids=[author_id]))
        if thumbnail is not None and old_avatar:
            storage = user.avatar.storage
            transaction.on_commit(lambda: storage.delete(old_avatar))
    return user


def user_password_change(
    *, user: User, old_password: str, new_password: str, request: HttpRequest | None = None
) -> None:
    """With request, the current session stays signed in; every other session is signed out."""
    ip = client_ip(request) if request is not None else None
    subjects = [_Subject("password", str(user.pk), int(gr_setting("LOGIN_MAX_FAILURES")))]
    retry_after = _locked_for(subjects)
    if retry_after:
        raise _locked_error(retry_after)
    (count,) = _count(subjects, 1)
    if count > subjects[0].limit:
        raise _lock(subjects, user=user, ip=ip, detail={})
    if not user.check_password(old_password):
        if count >= subjects[0].limit:
            raise _lock(subjects, user=user, ip=ip, detail={})
        raise ValidationFailed(
            _("Your current password is not correct."),
            code="wrong_password",
            fields={"old_password": _("Your current password is not correct.")},
        )
    cache.delete(subjects[0].counter_key)
    problems = _password_problems(new_password, user)
    if problems:
        raise ValidationFailed(_("Please choose a stronger password."), fields={"new_password": problems})
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_log_record(action=AuditLog.Action.PASSWORD_CHANGED, user=user, ip_address=ip)
    if request is not None:
        auth.update_session_auth_hash(request, user)


# Personal access tokens -------------------------------------------------------------------------


def api_token_create(*, user: User, name: str, ip_address: str | None = None) -> tuple[ApiToken, str]:
    """A new token and its plaintext `gr_<prefix>_<secret>`, which is never stored or shown again."""
    fields: dict[str, str] = {}
    clean_name = _clean_text(name, field="name", max_length=TOKEN_NAME_MAX, required=True, fields=fields)
    if fields:
        raise ValidationFailed(_("Please correct the marked fields."), fields=fields)
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ValidationFailed(
            _("You have %(max)s active tokens; revoke one first.") % {"max": MAX_ACTIVE_TOKENS},
            code="too_many_tokens",
        )
    for _attempt in range(3):
        prefix = secrets.token_hex(5)
        plaintext = f"gr_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user, name=clean_name, prefix=prefix, token_hash=ApiToken.hash_plaintext(plaintext)
                )
                audit_log_record(
                    action=AuditLog.Action.TOKEN_CREATED,
                    user=user,
                    ip_address=ip_address,
                    detail={"token_id": token.pk, "prefix": prefix, "name": clean_name},
                )
            return token, plaintext
        except IntegrityError:  # prefix collision: 1 in 10^12 per pair
            continue
    raise ServiceError(_("Could not create a token; please try again."), code="token_failed", status=503)


def api_token_revoke(*, user: User, token_id: int, ip_address: str | None = None) -> None:
    """Someone else's token, or one already revoked, is NotFound."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not revoked:
            raise NotFound(_("No such token."))
        audit_log_record(
            action=AuditLog.Action.TOKEN_REVOKED, user=user, ip_address=ip_address, detail={"token_id": token_id}
        )
