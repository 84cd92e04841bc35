"""Settings, read from the environment so one codebase runs embedded (SQLite) or at scale."""

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("GRASSROOTS_DATA_DIR", BASE_DIR / "data"))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The fallback key is only for the embedded demo; production settings refuse it.
SECRET_KEY = os.environ.get("SECRET_KEY", "grassroots-insecure-development-key-change-me-0123456789")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1,http://localhost")
PORT = int(os.environ.get("PORT", "8000"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "grassroots.core",
    "grassroots.accounts",
    "grassroots.merchants",
    "grassroots.catalog",
    "grassroots.curation",
    "grassroots.ledger",
    "grassroots.payments",
    "grassroots.orders",
    "grassroots.coupons",
    "grassroots.reviews",
    "grassroots.shops",
    "grassroots.attribution",
    "grassroots.commissions",
    "grassroots.social",
    "grassroots.notes",
    "grassroots.interactions",
    "grassroots.feeds",
    "grassroots.notifications",
    "grassroots.messaging",
    "grassroots.moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "grassroots.urls"
WSGI_APPLICATION = "grassroots.wsgi.application"
ASGI_APPLICATION = "grassroots.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "grassroots" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "grassroots.core.context_processors.navigation",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'grassroots.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    # A database cache is shared by every app process, so rate limits hold across workers.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "grassroots_cache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["grassroots.accounts.backends.EmailBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "grassroots" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "grassroots" / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media"))
# Merchant documents and evidence are never served from MEDIA_URL; views check who asks.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", DATA_DIR / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MAILERS: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")}
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Grassroots <noreply@grassroots.local>")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "connect-src": [CSP.SELF, "ws:", "wss:"],
    "media-src": [CSP.SELF, "blob:", "https:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Business settings. Each is documented where it is used.
GRASSROOTS = {
    "CURRENCY": os.environ.get("GRASSROOTS_CURRENCY", "CNY"),
    "LOGIN_MAX_FAILURES": int(os.environ.get("GRASSROOTS_LOGIN_MAX_FAILURES", "5")),
    "LOGIN_LOCKOUT_SECONDS": int(os.environ.get("GRASSROOTS_LOGIN_LOCKOUT_SECONDS", "900")),
    "MAX_IMAGE_BYTES": 5 * 1024 * 1024,
    "MAX_DOCUMENT_BYTES": 8 * 1024 * 1024,
    "API_PAGE_SIZE": 20,
    "PAYMENT_GATEWAY": os.environ.get("GRASSROOTS_PAYMENT_GATEWAY", "simulated"),
    "WEBHOOK_SECRET": os.environ.get("GRASSROOTS_WEBHOOK_SECRET", ""),  # empty: derived from SECRET_KEY
    # The simulated gateway accepts test cards; production refuses it unless this is set.
    "ALLOW_SIMULATED_PAYMENTS": env_bool("GRASSROOTS_ALLOW_SIMULATED_PAYMENTS", False),
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted (0: use REMOTE_ADDR).
    "TRUSTED_PROXIES": int(os.environ.get("GRASSROOTS_TRUSTED_PROXIES", "0")),
    "SIGNUPS_PER_IP_PER_HOUR": int(os.environ.get("GRASSROOTS_SIGNUPS_PER_IP_PER_HOUR", "20")),
    "ORDER_PAYMENT_TIMEOUT_MINUTES": int(os.environ.get("GRASSROOTS_ORDER_PAYMENT_TIMEOUT_MINUTES", "30")),
    "ORDER_AUTO_COMPLETE_DAYS": int(os.environ.get("GRASSROOTS_ORDER_AUTO_COMPLETE_DAYS", "10")),
    # A shipped order counts as received this many days after shipping if the buyer has not said so.
    "ORDER_AUTO_RECEIVE_DAYS": int(os.environ.get("GRASSROOTS_ORDER_AUTO_RECEIVE_DAYS", "10")),
    # After-sale: days after delivery to request a return (set 14 for EU-style withdrawal).
    "RETURN_WINDOW_DAYS": int(os.environ.get("GRASSROOTS_RETURN_WINDOW_DAYS", "7")),
    # Refunds before shipping are approved and paid at once; False lets the merchant approve them.
    "REFUND_ONLY_AUTO_APPROVE": env_bool("GRASSROOTS_REFUND_ONLY_AUTO_APPROVE", True),
    # Platform fee on goods, in basis points (500 = 5%).
    "PLATFORM_FEE_BPS": int(os.environ.get("GRASSROOTS_PLATFORM_FEE_BPS", "500")),
    # Distribution: last click within the window earns; binding keeps a new customer with a shop.
    "ATTRIBUTION_WINDOW_DAYS": int(os.environ.get("GRASSROOTS_ATTRIBUTION_WINDOW_DAYS", "7")),
    "CUSTOMER_BINDING_DAYS": int(os.environ.get("GRASSROOTS_CUSTOMER_BINDING_DAYS", "0")),  # 0: off
    # Clicks from one IP beyond this per minute still redirect but are not logged.
    "SHARE_CLICKS_PER_IP_PER_MINUTE": int(os.environ.get("GRASSROOTS_SHARE_CLICKS_PER_IP_PER_MINUTE", "60")),
    "COMMISSION_DECREASE_NOTICE_DAYS": int(os.environ.get("GRASSROOTS_COMMISSION_DECREASE_NOTICE_DAYS", "7")),
    # The inviter's team override, as a share of the platform fee (1000 = 10% of the fee). One level only.
    "TEAM_OVERRIDE_BPS": int(os.environ.get("GRASSROOTS_TEAM_OVERRIDE_BPS", "1000")),
    "WITHDRAWAL_MINIMUM": int(os.environ.get("GRASSROOTS_WITHDRAWAL_MINIMUM", "1000")),
    "PAYOUT_PROVIDER": os.environ.get("GRASSROOTS_PAYOUT_PROVIDER", "simulated"),
    "PAYOUT_SIMULATE_FAILURE": env_bool("GRASSROOTS_PAYOUT_SIMULATE_FAILURE", False),
    # Social layer. Home feeds are fanned out on write into a timeline capped at FEED_TIMELINE_CAP
    # entries per reader; authors with more followers than FEED_FANOUT_ON_READ_THRESHOLD are merged
    # in when the feed is read instead.
    "FEED_TIMELINE_CAP": int(os.environ.get("GRASSROOTS_FEED_TIMELINE_CAP", "800")),
    "FEED_FANOUT_ON_READ_THRESHOLD": int(os.environ.get("GRASSROOTS_FEED_FANOUT_ON_READ_THRESHOLD", "5000")),
    "FEED_PAGE_SIZE": int(os.environ.get("GRASSROOTS_FEED_PAGE_SIZE", "20")),
    # Per-user limits per hour on what can be used to spam.
    "NOTES_PER_HOUR": int(os.environ.get("GRASSROOTS_NOTES_PER_HOUR", "20")),
    "COMMENTS_PER_HOUR": int(os.environ.get("GRASSROOTS_COMMENTS_PER_HOUR", "120")),
    "FOLLOWS_PER_HOUR": int(os.environ.get("GRASSROOTS_FOLLOWS_PER_HOUR", "200")),
    "MESSAGES_PER_HOUR": int(os.environ.get("GRASSROOTS_MESSAGES_PER_HOUR", "60")),
    "REPORTS_PER_HOUR": int(os.environ.get("GRASSROOTS_REPORTS_PER_HOUR", "30")),
}
