"""Product search for Chinese and English without a tokenizer (docs/adr/0005-search.md).

Every whitespace-separated term must occur as a substring of Product.search_text, which the
catalog services keep lower-cased. Substrings need no word segmentation, so `面霜` finds
`保湿面霜`; on PostgreSQL a pg_trgm GIN index (migration 0002_search_index) serves the LIKEs.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from grassroots.catalog.models import Product

MAX_QUERY_CHARS = 100
# Each term is one more LIKE; a handful is plenty for a product search.
MAX_TERMS = 8

RANK_EXACT_TITLE = 0
RANK_TITLE_PHRASE = 1
RANK_OTHER = 2


def normalise_query(query: str | None) -> str:
    """Lower-cased, whitespace collapsed, bounded; "" means no search."""
    if not query:
        return ""
    return " ".join(query.lower().split()[:MAX_TERMS])[:MAX_QUERY_CHARS].strip()


def search_terms(query: str | None) -> list[str]:
    return normalise_query(query).split()


def search_products(queryset: QuerySet[Product], query: str | None) -> QuerySet[Product]:
    """Keep the products matching every term, annotated with `search_rank` (lower is better)."""
    phrase = normalise_query(query)
    if not phrase:
        return queryset.annotate(search_rank=Value(RANK_OTHER, output_field=IntegerField()))
    for term in phrase.split():
        queryset = queryset.filter(search_text__contains=term)
    return queryset.annotate(
        search_rank=Case(
            When(Q(title_en__iexact=phrase) | Q(title_zh__iexact=phrase), then=Value(RANK_EXACT_TITLE)),
            When(Q(title_en__icontains=phrase) | Q(title_zh__icontains=phrase), then=Value(RANK_TITLE_PHRASE)),
            default=Value(RANK_OTHER),
            output_field=IntegerField(),
        )
    )
