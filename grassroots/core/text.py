"""User content in, safe HTML out: markdown rendered, then sanitised with nh3."""

from __future__ import annotations

import html

import markdown as md
import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "h2",
    "h3",
    "h4",
    "a",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener ugc",
    )


def render_markdown(text: str) -> str:
    return sanitize_html(md.markdown(text or "", extensions=["tables", "sane_lists"]))


def clean_plain_text(text: str, *, max_length: int) -> str:
    """Strip every tag from short fields (titles, names): they are shown as text, never HTML."""
    return html.unescape(nh3.clean(text or "", tags=set())).strip()[:max_length]
