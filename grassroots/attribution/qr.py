"""QR codes of share links, drawn by segno (pure Python, no image library needed)."""

from __future__ import annotations

import io
from typing import Literal

import segno

QrFormat = Literal["svg", "png"]
CONTENT_TYPES: dict[str, str] = {"svg": "image/svg+xml", "png": "image/png"}
# Modules per side are ~25-33 for our URLs: 8 px each gives a ~300 px PNG that prints well.
DEFAULT_SCALE = 8
MAX_SCALE = 20


def qr_image(*, url: str, fmt: QrFormat, scale: int = DEFAULT_SCALE) -> bytes:
    """The QR code of `url`; error correction M survives a small logo or a crumpled print."""
    code = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    if fmt == "svg":
        code.save(out, kind="svg", scale=scale, border=4, xmldecl=False, svgclass=None, lineclass=None)
    else:
        code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
