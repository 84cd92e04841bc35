"""The pages, without JavaScript: plain forms, POST and redirect."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import Client

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.reviews.models import MerchantReply, Review, ReviewPhoto
from grassroots.reviews.tests.factories import media_files, ordered_line, photo, review_of, text_file

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_product_page_shows_the_summary_and_latest_verified_reviews_with_photos_and_replies():
    merchant = MerchantFactory(name="Leaf & Co")
    product = ProductFactory(merchant=merchant)
    oldest = review_of(ordered_line(product=product), rating=2, text="Too bitter for me")
    for n in range(3):
        review_of(ordered_line(product=product), rating=5, text=f"Lovely {n}", photos=1, reply="Thank you!")

    html = Client().get(f"/p/{product.slug}/").content.decode()

    section = html[html.index('id="reviews"') :]
    assert "4.3 out of 5" in section  # (2 + 5 + 5 + 5) / 4 = 4.25
    assert "Quality score 4.1" in section  # (5 * 4.0 + 17) / 9 = 4.11
    assert "4 ratings" in section
    assert "Verified purchases" in section
    assert section.count("✓ Verified purchase<") == 3
    assert "Lovely 2" in section and "Lovely 0" in section
    assert oldest.text not in section  # only the latest three on the product page
    assert section.count("/media/reviews/thumbs/") == 3
    assert section.count("Reply from Leaf &amp; Co") == 3
    assert f'href="/reviews/products/{product.pk}/"' in section


def test_a_product_without_reviews_says_so():
    product = ProductFactory()

    html = Client().get(f"/p/{product.slug}/").content.decode()

    assert "No reviews yet." in html


def test_a_review_cannot_exist_without_a_verified_purchase():
    review = review_of(ordered_line())

    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(is_verified_purchase=False)


def test_hidden_reviews_disappear_from_the_product_page_and_the_review_page():
    line = ordered_line()
    review_of(line, text="Shown")
    hidden = review_of(ordered_line(product=line.product), text="Spam link")
    curator = client_for(CuratorFactory())

    response = curator.post(f"/reviews/{hidden.pk}/hide/", {"reason": "Spam"})

    assert response.status_code == 302
    assert response["Location"] == f"/reviews/products/{line.product_id}/"
    for url in (f"/p/{line.product.slug}/", f"/reviews/products/{line.product_id}/"):
        html = Client().get(url).content.decode()
        assert "Shown" in html
        assert "Spam link" not in html
        assert "1 rating" in html


def test_only_curators_see_and_use_the_hide_form():
    review = review_of(ordered_line())
    url = f"/reviews/products/{review.product_id}/"

    assert "Hide this review" not in client_for(review.buyer).get(url).content.decode()
    assert "Hide this review" in client_for(CuratorFactory()).get(url).content.decode()
    assert client_for(review.buyer).post(f"/reviews/{review.pk}/hide/", {"reason": "x"}).status_code == 403
    review.refresh_from_db()
    assert review.status == "visible"


def test_the_write_page_has_star_radios_and_publishes_a_review_with_photos():
    line = ordered_line()
    client = client_for(line.order.buyer)

    form = client.get(f"/reviews/write/{line.pk}/").content.decode()
    assert form.count('type="radio" name="rating"') == 5
    assert 'enctype="multipart/form-data"' in form
    assert 'type="file" name="photos"' in form

    response = client.post(f"/reviews/write/{line.pk}/", {"rating": "4", "text": "Good", "photos": [photo(), photo()]})

    assert response.status_code == 302
    assert response["Location"] == f"/reviews/products/{line.product_id}/"
    review = Review.objects.get()
    assert (review.rating, review.text, review.photos.count()) == (4, "Good", 2)
    again = client.get(f"/reviews/write/{line.pk}/")
    assert (again.status_code, again["Location"]) == (302, f"/reviews/products/{line.product_id}/")


def test_the_write_page_is_404_for_someone_elses_line():
    line = ordered_line()
    client = client_for(UserFactory())

    assert client.get(f"/reviews/write/{line.pk}/").status_code == 404
    assert client.post(f"/reviews/write/{line.pk}/", {"rating": "5"}).status_code == 404
    assert not Review.objects.exists()
    assert Client().get(f"/reviews/write/{line.pk}/").status_code == 302  # to log in


def test_the_write_page_refuses_an_undelivered_line():
    line = ordered_line(upto="shipped")
    client = client_for(line.order.buyer)

    page = client.get(f"/reviews/write/{line.pk}/")
    post = client.post(f"/reviews/write/{line.pk}/", {"rating": "5"})

    assert page.status_code == 422
    assert "once the order is delivered" in page.content.decode()
    assert 'name="rating"' not in page.content.decode()
    assert post.status_code == 422
    assert not Review.objects.exists()


@pytest.mark.parametrize(("data", "message"), [({"rating": "6"}, "Choose a rating"), ({}, "Choose a rating")])
def test_the_write_page_shows_errors_and_keeps_the_text(data, message):
    line = ordered_line()

    response = client_for(line.order.buyer).post(f"/reviews/write/{line.pk}/", {**data, "text": "Kept text"})

    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert "Kept text" in html
    assert not Review.objects.exists()


def test_the_write_page_refuses_a_text_file_and_leaves_nothing():
    line = ordered_line()

    response = client_for(line.order.buyer).post(
        f"/reviews/write/{line.pk}/", {"rating": "5", "photos": [photo(), text_file()]}
    )

    assert response.status_code == 422
    assert "not a JPEG, PNG, WebP or GIF image" in response.content.decode()
    assert not (Review.objects.exists() or ReviewPhoto.objects.exists())
    assert media_files(settings.MEDIA_ROOT) == []


def test_pending_lists_my_received_lines_with_a_write_link():
    buyer = UserFactory()
    waiting = ordered_line(buyer=buyer)
    done = ordered_line(buyer=buyer)
    review_of(done)
    ordered_line(buyer=buyer, upto="paid")

    html = client_for(buyer).get("/reviews/pending/").content.decode()

    assert f'href="/reviews/write/{waiting.pk}/"' in html
    assert f'href="/reviews/write/{done.pk}/"' not in html
    assert html.count("/reviews/write/") == 1


def test_the_merchant_page_lists_reviews_and_a_member_replies():
    merchant = MerchantFactory()
    review = review_of(ordered_line(product=ProductFactory(merchant=merchant)), text="Where is the lid?")
    review_of(ordered_line(), text="Not ours")
    client = client_for(merchant.owner)

    html = client.get("/reviews/merchant/").content.decode()
    assert "Where is the lid?" in html
    assert "Not ours" not in html
    assert f'action="/reviews/merchant/{review.pk}/reply/"' in html

    response = client.post(f"/reviews/merchant/{review.pk}/reply/", {"text": "It is in the box."})

    assert response.status_code == 302
    assert MerchantReply.objects.get().text == "It is in the box."
    assert f'action="/reviews/merchant/{review.pk}/reply/"' not in client.get("/reviews/merchant/").content.decode()
    assert "It is in the box." in Client().get(f"/reviews/products/{review.product_id}/").content.decode()


def test_another_merchant_cannot_reply_and_non_merchants_have_no_merchant_page():
    review = review_of(ordered_line())

    response = client_for(MerchantFactory().owner).post(f"/reviews/merchant/{review.pk}/reply/", {"text": "Hi"})

    assert response.status_code == 404
    assert not MerchantReply.objects.exists()
    assert client_for(UserFactory()).get("/reviews/merchant/").status_code == 404


def test_script_in_a_review_is_rendered_as_text():
    line = ordered_line()
    review = review_of(line, text="ok")
    # Even text that reached the table without the service's cleaning is escaped on output.
    Review.objects.filter(pk=review.pk).update(text='<script>alert("x")</script><img src=x onerror=alert(1)>')

    for url in (f"/p/{line.product.slug}/", f"/reviews/products/{line.product_id}/"):
        html = Client().get(url).content.decode()
        assert '<script>alert("x")' not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_the_review_page_pages_with_a_cursor():
    product = ProductFactory()
    for n in range(21):
        review_of(ordered_line(product=product), text=f"Review number {n:02d}")
    client = Client()

    first = client.get(f"/reviews/products/{product.pk}/").content.decode()
    assert "Review number 20" in first and "Review number 00" not in first
    cursor = first.split("?cursor=")[1].split('"')[0]
    second = client.get(f"/reviews/products/{product.pk}/?cursor={cursor}").content.decode()
    assert "Review number 00" in second and "Review number 20" not in second
