import datetime

import pytest

from grassroots.catalog.search import normalise_query, search_terms
from grassroots.catalog.selectors import products_listed
from grassroots.catalog.tests.factories import ProductFactory

NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


def _titles(query: str) -> list[str]:
    return [p.title_en for p in products_listed(query=query)]


@pytest.fixture
def shelf():  # type: ignore[no-untyped-def]
    cream = ProductFactory(
        title_en="Moisturising Cream", title_zh="保湿面霜", brand="Yunnan Herbs", origin="Yunnan", listed_at=NOW
    )
    tea = ProductFactory(
        title_en="Pu'er Tea Cake", title_zh="普洱茶饼", brand="Menghai", origin="Yunnan", listed_at=NOW
    )
    mask = ProductFactory(title_en="Sheet Mask", title_zh="面膜", brand="Acme", origin="Korea", listed_at=NOW)
    return cream, tea, mask


def test_normalise_query_lowercases_collapses_and_bounds():
    assert normalise_query("  Moisturising\t  CREAM ") == "moisturising cream"
    assert normalise_query(None) == ""
    assert normalise_query("   ") == ""
    assert search_terms(" ".join(f"w{i}" for i in range(20))) == [f"w{i}" for i in range(8)]
    assert len(normalise_query("x" * 500)) == 100


@pytest.mark.django_db
def test_chinese_substring_finds_the_product(shelf):  # type: ignore[no-untyped-def]
    assert _titles("面霜") == ["Moisturising Cream"]


@pytest.mark.django_db
def test_english_word_finds_the_product_case_insensitively(shelf):  # type: ignore[no-untyped-def]
    assert _titles("cream") == ["Moisturising Cream"]
    assert _titles("CREAM") == ["Moisturising Cream"]
    assert _titles("MoIsTuRiSiNg") == ["Moisturising Cream"]


@pytest.mark.django_db
def test_every_term_must_match(shelf):  # type: ignore[no-untyped-def]
    assert sorted(_titles("yunnan")) == ["Moisturising Cream", "Pu'er Tea Cake"]
    assert _titles("yunnan 茶") == ["Pu'er Tea Cake"]
    assert _titles("面 cream") == ["Moisturising Cream"]
    assert _titles("cream korea") == []


@pytest.mark.django_db
def test_brand_and_origin_match(shelf):  # type: ignore[no-untyped-def]
    assert _titles("menghai") == ["Pu'er Tea Cake"]
    assert _titles("korea") == ["Sheet Mask"]


@pytest.mark.django_db
def test_like_wildcards_are_literal(shelf):  # type: ignore[no-untyped-def]
    assert _titles("%") == []
    assert _titles("_") == []
    assert _titles("pu'er") == ["Pu'er Tea Cake"]


@pytest.mark.django_db
def test_exact_title_ranks_first_then_title_phrase_then_newest():
    # Given four matches for "cream"; the newest are the weaker matches.
    ProductFactory(title_en="Hand Lotion", brand="Cream Co", listed_at=NOW)
    ProductFactory(title_en="Night Cream Deluxe", listed_at=NOW - datetime.timedelta(days=1))
    ProductFactory(title_en="Day Cream", listed_at=NOW - datetime.timedelta(days=2))
    ProductFactory(title_en="Cream", listed_at=NOW - datetime.timedelta(days=3))
    # When searching, then the exact title wins, title matches beat brand matches, newest first within.
    assert _titles("Cream") == ["Cream", "Night Cream Deluxe", "Day Cream", "Hand Lotion"]


@pytest.mark.django_db
def test_exact_chinese_title_ranks_first():
    ProductFactory(title_en="Rich Face Cream", title_zh="滋润面霜", listed_at=NOW)
    ProductFactory(title_en="Face Cream", title_zh="面霜", listed_at=NOW - datetime.timedelta(days=5))
    assert _titles("面霜") == ["Face Cream", "Rich Face Cream"]


@pytest.mark.django_db
def test_without_a_query_newest_listed_first():
    ProductFactory(title_en="Old", listed_at=NOW - datetime.timedelta(days=9))
    ProductFactory(title_en="New", listed_at=NOW)
    ProductFactory(title_en="Middle", listed_at=NOW - datetime.timedelta(days=3))
    assert _titles("") == ["New", "Middle", "Old"]
