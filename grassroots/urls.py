from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.static import serve

from grassroots.api import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("grassroots.accounts.urls")),
    path("merchants/", include("grassroots.merchants.urls")),
    path("curation/", include("grassroots.curation.urls")),
    path("orders/", include("grassroots.orders.urls")),
    path("coupons/", include("grassroots.coupons.urls")),
    path("payments/", include("grassroots.payments.urls")),
    path("ledger/", include("grassroots.ledger.urls")),
    path("reviews/", include("grassroots.reviews.urls")),
    path("shops/", include("grassroots.shops.urls")),
    path("s/", include("grassroots.attribution.urls")),
    path("earnings/", include("grassroots.commissions.urls")),
    path("", include("grassroots.social.urls")),  # /u/<handle>/ profiles, follow lists
    path("notes/", include("grassroots.notes.urls")),
    path("interactions/", include("grassroots.interactions.urls")),
    path("", include("grassroots.feeds.urls")),  # /feed/, /discover/, /tags/<name>/
    path("notifications/", include("grassroots.notifications.urls")),
    path("messages/", include("grassroots.messaging.urls")),
    path("moderation/", include("grassroots.moderation.urls")),
    path("", include("grassroots.catalog.urls")),
]
if settings.GRASSROOTS.get("SERVE_MEDIA", True):
    # The embedded mode serves uploads itself; at scale they live on object storage.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
