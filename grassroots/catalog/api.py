"""Catalog API: public browsing (api_public) and the merchant console (api_merchant)."""

from ninja import Router

from grassroots.catalog.api_merchant import router as merchant_router
from grassroots.catalog.api_public import router as public_router

router = Router(tags=["catalog"])
router.add_router("/", public_router)
router.add_router("/merchant/", merchant_router)
