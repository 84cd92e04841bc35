"""API v1: one NinjaAPI, one router per app, one error shape."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from grassroots.core.api_auth import api_auth
from grassroots.core.errors import RateLimited, ServiceError
from grassroots.core.idempotency import InProgress

api = NinjaAPI(
    title="Grassroots API",
    version="1.0.0",
    description="Social e-commerce: curated supply, shops, orders. Errors are "
    '`{"code": ..., "message": ..., "fields": {...}}`. Lists are cursor-paginated.',
    urls_namespace="api-v1",
    auth=api_auth,
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request: HttpRequest, status: int, code: str, message: str, fields: dict | None = None) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, "fields": fields or {}}, status=status)


@api.exception_handler(ServiceError)
def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    response = _error(request, exc.status, exc.code, exc.message, exc.fields)
    if isinstance(exc, RateLimited | InProgress):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for error in exc.errors:
        loc = [
            str(part)
            for part in error.get("loc", ())
            if part not in ("body", "query", "path", "form", "payload", "file")
        ]
        fields[".".join(loc) or "request"] = str(error.get("msg", "invalid"))
    return _error(request, 422, "invalid", _("The request is not valid."), fields)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", _("Sign in or send a valid API token."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = str(exc) if str(exc).replace("_", "").isalnum() else "error"
    messages = {
        "invalid_token": _("The API token is not valid."),
        "csrf_failed": _("CSRF check failed; send the X-CSRFToken header or use a token."),
    }
    return _error(request, exc.status_code, code, messages.get(code, str(exc)))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", _("Not found."))


@api.exception_handler(DjangoPermissionDenied)
def on_forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return _error(request, 403, "forbidden", _("You may not do this."))


def _register_routers() -> None:
    from grassroots.accounts.api import router as accounts_router
    from grassroots.attribution.api import router as attribution_router
    from grassroots.catalog.api import router as catalog_router
    from grassroots.commissions.api import router as commissions_router
    from grassroots.coupons.api import router as coupons_router
    from grassroots.curation.api import router as curation_router
    from grassroots.feeds.api import router as feeds_router
    from grassroots.interactions.api import router as interactions_router
    from grassroots.ledger.api import router as ledger_router
    from grassroots.merchants.api import router as merchants_router
    from grassroots.messaging.api import router as messaging_router
    from grassroots.moderation.api import router as moderation_router
    from grassroots.notes.api import router as notes_router
    from grassroots.notifications.api import router as notifications_router
    from grassroots.orders.api import router as orders_router
    from grassroots.payments.api import router as payments_router
    from grassroots.reviews.api import router as reviews_router
    from grassroots.shops.api import router as shops_router
    from grassroots.social.api import router as social_router

    api.add_router("/accounts/", accounts_router)
    api.add_router("/merchants/", merchants_router)
    api.add_router("/catalog/", catalog_router)
    api.add_router("/curation/", curation_router)
    api.add_router("/orders/", orders_router)
    api.add_router("/coupons/", coupons_router)
    api.add_router("/payments/", payments_router)
    api.add_router("/ledger/", ledger_router)
    api.add_router("/reviews/", reviews_router)
    api.add_router("/shops/", shops_router)
    api.add_router("/attribution/", attribution_router)
    api.add_router("/commissions/", commissions_router)
    api.add_router("/social/", social_router)
    api.add_router("/notes/", notes_router)
    api.add_router("/interactions/", interactions_router)
    api.add_router("/feeds/", feeds_router)
    api.add_router("/notifications/", notifications_router)
    api.add_router("/messages/", messaging_router)
    api.add_router("/moderation/", moderation_router)


_register_routers()
