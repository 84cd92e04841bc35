from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory, bearer_headers
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.reviews.models import MerchantReply, Review, ReviewPhoto
from grassroots.reviews.tests.factories import media_files, ordered_line, photo, review_of, text_file

pytestmark = pytest.mark.django_db

API = "/api/v1/reviews"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_review(client: Client, line_id: int, *, rating: Any = 5, text: str = "", photos: list | None = None, **extra):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {"order_line_id": line_id, "rating": rating, "text": text}
    if photos:
        data["photos"] = photos
    return client.post(f"{API}/", data, **extra)


def nothing_written() -> bool:
    return not (Review.objects.exists() or ReviewPhoto.objects.exists()) and media_files(settings.MEDIA_ROOT) == []


def test_the_buyer_posts_a_review_with_photos_by_multipart():
    line = ordered_line()

    response = post_review(
        Client(),
        line.pk,
        rating=4,
        text="Smells great",
        photos=[photo("a.png"), photo("b.png")],
        **bearer_headers(line.order.buyer),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["rating"], body["text"], body["is_verified_purchase"], body["status"]) == (
        4,
        "Smells great",
        True,
        "visible",
    )
    assert (body["product_id"], body["buyer_name"], body["sku_label"], body["reply"]) == (
        line.product_id,
        line.order.buyer.display_name,
        line.sku_label,
        None,
    )
    assert len(body["photos"]) == 2
    assert body["photos"][0]["url"].startswith("http://testserver/media/reviews/")
    assert body["photos"][0]["thumbnail_url"].startswith("http://testserver/media/reviews/thumbs/")


def test_a_stranger_gets_404_and_nothing_is_written():
    line = ordered_line()

    response = post_review(client_for(UserFactory()), line.pk, photos=[photo()])

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert nothing_written()


def test_anonymous_callers_must_sign_in():
    line = ordered_line()

    assert post_review(Client(), line.pk).status_code == 401
    assert nothing_written()


def test_an_undelivered_line_is_422_not_delivered():
    line = ordered_line(upto="shipped")

    response = post_review(client_for(line.order.buyer), line.pk, photos=[photo()])

    assert response.status_code == 422
    assert response.json()["code"] == "not_delivered"
    assert nothing_written()


def test_a_second_review_of_a_line_is_409():
    line = ordered_line()
    client = client_for(line.order.buyer)
    assert post_review(client, line.pk).status_code == 201

    response = post_review(client, line.pk, rating=1)

    assert response.status_code == 409
    assert response.json()["code"] == "already_reviewed"
    assert Review.objects.count() == 1


@pytest.mark.parametrize("rating", [0, 6, "x", ""])
def test_a_bad_rating_is_422(rating):
    line = ordered_line()

    response = post_review(client_for(line.order.buyer), line.pk, rating=rating)

    assert response.status_code == 422
    assert set(response.json()) == {"code", "message", "fields"}
    assert "rating" in response.json()["fields"]
    assert nothing_written()


def test_a_text_file_as_a_photo_is_422_and_leaves_nothing():
    line = ordered_line()

    response = post_review(client_for(line.order.buyer), line.pk, photos=[photo(), text_file()])

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_image"
    assert nothing_written()


def test_the_product_reviews_are_public_newest_first_with_summary():
    product = ProductFactory()
    first = review_of(ordered_line(product=product), rating=5, text="First")
    second = review_of(ordered_line(product=product), rating=3, text="Second", photos=1)
    review_of(ordered_line(), rating=1)  # another product

    body = Client().get(f"{API}/products/{product.pk}").json()

    assert [item["id"] for item in body["items"]] == [second.pk, first.pk]
    assert body["summary"]["count"] == 2
    assert body["summary"]["average"] == 4.0
    assert body["summary"]["score"] == pytest.approx((20 + 8) / 7)
    assert body["summary"]["stars"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert body["next_cursor"] is None


def test_the_product_reviews_paginate_with_a_cursor():
    product = ProductFactory()
    ids = [review_of(ordered_line(product=product)).pk for _ in range(3)]
    client = Client()

    page1 = client.get(f"{API}/products/{product.pk}?limit=2").json()
    page2 = client.get(f"{API}/products/{product.pk}?limit=2&cursor={page1['next_cursor']}").json()

    assert [i["id"] for i in page1["items"]] + [i["id"] for i in page2["items"]] == ids[::-1]
    assert page2["next_cursor"] is None
    assert client.get(f"{API}/products/{product.pk}?cursor=%%%").status_code == 422
    assert client.get(f"{API}/products/{product.pk}?limit=0").status_code == 422


def test_reviews_of_a_product_buyers_cannot_see_are_404():
    line = ordered_line()
    review_of(line)
    Product.objects.filter(pk=line.product_id).update(is_listed=False, status="suspended")

    assert Client().get(f"{API}/products/{line.product_id}").status_code == 404
    assert Client().get(f"{API}/products/999999").status_code == 404
    assert client_for(CuratorFactory()).get(f"{API}/products/{line.product_id}").status_code == 200


def _list_queries(django_assert_max_num_queries: Any, count: int) -> int:
    product = ProductFactory()
    for n in range(count):
        review_of(ordered_line(product=product), rating=n % 5 + 1, photos=2, reply="Thanks!")
    client = Client()
    with django_assert_max_num_queries(10) as captured:
        response = client.get(f"{API}/products/{product.pk}?limit=50")
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == count
    assert all(len(item["photos"]) == 2 and item["reply"]["text"] == "Thanks!" for item in items)
    return len(captured.captured_queries)


def test_the_list_query_count_does_not_grow_with_reviews(django_assert_max_num_queries):
    few = _list_queries(django_assert_max_num_queries, 3)
    many = _list_queries(django_assert_max_num_queries, 15)

    assert few == many


def test_a_member_replies_through_the_api_and_another_merchant_gets_404():
    merchant = MerchantFactory()
    review = review_of(ordered_line(product=ProductFactory(merchant=merchant)))

    stranger = client_for(MerchantFactory().owner).post(
        f"{API}/{review.pk}/reply", {"text": "Hi"}, content_type="application/json"
    )
    assert stranger.status_code == 404
    assert not MerchantReply.objects.exists()

    response = client_for(merchant.owner).post(
        f"{API}/{review.pk}/reply", {"text": "Thank you"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert (response.json()["merchant_id"], response.json()["text"]) == (merchant.pk, "Thank you")
    again = client_for(merchant.owner).post(f"{API}/{review.pk}/reply", {"text": "x"}, content_type="application/json")
    assert (again.status_code, again.json()["code"]) == (409, "already_replied")
    item = Client().get(f"{API}/products/{review.product_id}").json()["items"][0]
    assert item["reply"]["merchant_name"] == merchant.name


def test_curators_hide_a_review_and_it_leaves_the_public_list():
    line = ordered_line()
    review = review_of(line, rating=1, text="Rude words")

    forbidden = client_for(line.order.buyer).post(
        f"{API}/{review.pk}/hide", {"reason": "no"}, content_type="application/json"
    )
    assert forbidden.status_code == 403
    response = client_for(CuratorFactory()).post(
        f"{API}/{review.pk}/hide", {"reason": "Abusive"}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "hidden"
    body = Client().get(f"{API}/products/{line.product_id}").json()
    assert body["items"] == []
    assert body["summary"]["count"] == 0
    missing = client_for(CuratorFactory()).post(f"{API}/999999/hide", {"reason": "x"}, content_type="application/json")
    assert missing.status_code == 404


def test_mine_pending_lists_only_my_received_unreviewed_lines():
    buyer = UserFactory()
    waiting = ordered_line(buyer=buyer)
    review_of(ordered_line(buyer=buyer))
    ordered_line(buyer=buyer, upto="paid")
    ordered_line()

    response = client_for(buyer).get(f"{API}/mine/pending")

    assert response.status_code == 200
    assert [item["order_line_id"] for item in response.json()["items"]] == [waiting.pk]
    assert response.json()["items"][0]["product_title"] == waiting.product_title
    assert Client().get(f"{API}/mine/pending").status_code == 401


def test_script_in_text_comes_back_inert():
    line = ordered_line()

    response = post_review(
        client_for(line.order.buyer),
        line.pk,
        text="<script>alert(1)</script>Good &lt;img src=x onerror=alert(2)&gt;tea",
    )

    assert response.status_code == 201
    assert response.json()["text"] == "Good tea"
