from ninja import Router

router = Router(tags=["messaging"])
