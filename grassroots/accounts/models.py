from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# No 0/O or 1/I/L: invite codes are read aloud and typed from screenshots.
INVITE_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_CODE_LENGTH = 8


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


HANDLE_MAX_LENGTH = 30
_HANDLE_RE = re.compile(r"[^a-z0-9_]+")


def handle_base(email: str) -> str:
    """A readable handle stem from the e-mail's local part: lower-case letters, digits, underscores."""
    stem = _HANDLE_RE.sub("_", email.split("@", 1)[0].lower()).strip("_")
    return (stem or "member")[: HANDLE_MAX_LENGTH - 6]


class UserManager(BaseUserManager["User"]):
    def unused_invite_code(self) -> str:
        while True:
            code = new_invite_code()
            if not self.filter(invite_code=code).exists():
                return code

    def unused_handle(self, email: str) -> str:
        stem = handle_base(email)
        if not self.filter(handle=stem).exists():
            return stem
        while True:
            candidate = f"{stem}_{secrets.randbelow(100000):05d}"
            if not self.filter(handle=candidate).exists():
                return candidate

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        extra.setdefault("invite_code", self.unused_invite_code())
        extra.setdefault("handle", self.unused_handle(email))
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone is a buyer; merchant staff and curators are roles on top."""

    email = models.EmailField(_("email"), unique=True)
    display_name = models.CharField(_("display name"), max_length=60)
    avatar = models.ImageField(_("avatar"), upload_to="avatars/%Y/%m/", blank=True)
    bio = models.CharField(_("bio"), max_length=280, blank=True)
    invite_code_used = models.CharField(_("invite code"), max_length=32, blank=True)
    invite_code = models.CharField(max_length=16, unique=True, null=True, blank=True)
    # Public name in profile URLs and @mentions; lower-case letters, digits and underscores.
    handle = models.CharField(_("handle"), max_length=HANDLE_MAX_LENGTH, unique=True, null=True, blank=True)
    # Who brought this member in; the team relation for one level of override, never more.
    invited_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="invitees", verbose_name=_("invited by")
    )
    preferred_language = models.CharField(max_length=10, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        permissions = [("curator", "Can screen products, merchants and reports")]

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def is_curator(self) -> bool:
        return bool(self.is_active and (self.is_superuser or self.has_perm("accounts.curator")))


class ApiToken(models.Model):
    """A personal access token. Only a SHA-256 of the secret is stored; it is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @staticmethod
    def hash_plaintext(plaintext: str) -> str:
        # The secret is 256 random bits, so a fast unsalted hash is enough (unlike passwords).
        return hashlib.sha256(plaintext.encode()).hexdigest()


class AuditLog(models.Model):
    """Security-relevant events: sign-ins, failures, lockouts, token changes."""

    class Action(models.TextChoices):
        SIGNUP = "signup", _("signed up")
        LOGIN_OK = "login_ok", _("signed in")
        LOGIN_FAILED = "login_failed", _("sign-in failed")
        LOCKOUT = "lockout", _("locked out")
        LOGOUT = "logout", _("signed out")
        TOKEN_CREATED = "token_created", _("API token created")
        TOKEN_REVOKED = "token_revoked", _("API token revoked")
        PASSWORD_CHANGED = "password_changed", _("password changed")

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Not limited to Action: other apps (2FA, payouts) record their own security events here.
    action = models.CharField(max_length=40)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.action} {self.user_id}"
