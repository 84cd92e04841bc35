from __future__ import annotations

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.merchants.tests.factories import MerchantFactory, MerchantMemberFactory
from grassroots.reviews import selectors, services
from grassroots.reviews.models import MerchantReply, Review, ReviewPhoto
from grassroots.reviews.tests.factories import media_files, ordered_line, photo, review_of, text_file

pytestmark = pytest.mark.django_db


def nothing_written() -> bool:
    return not (Review.objects.exists() or ReviewPhoto.objects.exists()) and media_files(settings.MEDIA_ROOT) == []


@pytest.mark.parametrize("upto", ["delivered", "completed"])
def test_the_buyer_of_a_received_line_reviews_it_with_photos(upto):
    line = ordered_line(upto=upto)

    review = services.review_create(
        buyer=line.order.buyer, order_line_id=line.pk, rating=4, text="Fresh and fragrant.", photos=[photo(), photo()]
    )

    review.refresh_from_db()
    assert (review.order_line_id, review.product_id, review.buyer_id) == (line.pk, line.product_id, line.order.buyer_id)
    assert (review.rating, review.text, review.status, review.is_verified_purchase) == (
        4,
        "Fresh and fragrant.",
        "visible",
        True,
    )
    photos = list(review.photos.all())
    assert [p.position for p in photos] == [0, 1]
    assert all(p.image.name.endswith(".jpg") and p.thumbnail.name.endswith(".jpg") for p in photos)
    assert (photos[0].width, photos[0].height) == (8, 6)
    assert len(media_files(settings.MEDIA_ROOT)) == 4


def test_a_stranger_cannot_review_someone_elses_line():
    line = ordered_line()

    with pytest.raises(NotFound):
        services.review_create(buyer=UserFactory(), order_line_id=line.pk, rating=5, text="", photos=[])

    assert nothing_written()


def test_a_missing_line_is_not_found():
    with pytest.raises(NotFound):
        services.review_create(buyer=UserFactory(), order_line_id=987654, rating=5, text="", photos=[])


@pytest.mark.parametrize("upto", ["pending_payment", "paid", "shipped"])
def test_a_line_not_yet_received_cannot_be_reviewed(upto):
    line = ordered_line(upto=upto)

    with pytest.raises(ValidationFailed) as error:
        services.review_create(buyer=line.order.buyer, order_line_id=line.pk, rating=5, text="", photos=[photo()])

    assert (error.value.status, error.value.code) == (422, "not_delivered")
    assert nothing_written()


def test_one_review_per_line():
    line = review_of(ordered_line()).order_line

    with pytest.raises(Conflict) as error:
        services.review_create(buyer=line.order.buyer, order_line_id=line.pk, rating=1, text="Again", photos=[])

    assert (error.value.status, error.value.code) == (409, "already_reviewed")
    assert list(Review.objects.values_list("rating", flat=True)) == [5]


def test_the_database_refuses_a_second_review_of_a_line():
    review = review_of(ordered_line())

    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(order_line=review.order_line, product=review.product, buyer=review.buyer, rating=3)

    assert Review.objects.count() == 1


@pytest.mark.parametrize("rating", [0, 6, -1, "x", "", None, True, 4.5, "4.5", "10", [5]])
def test_a_rating_outside_1_to_5_is_refused(rating):
    line = ordered_line()

    with pytest.raises(ValidationFailed) as error:
        services.review_create(buyer=line.order.buyer, order_line_id=line.pk, rating=rating, text="", photos=[])

    assert (error.value.code, error.value.fields) == ("invalid_rating", {"rating": "out_of_range"})
    assert nothing_written()


def test_a_rating_from_a_form_is_a_string_of_digits():
    line = ordered_line()

    review = services.review_create(buyer=line.order.buyer, order_line_id=line.pk, rating=" 3 ", text="", photos=[])

    assert review.rating == 3


def test_a_text_file_as_a_photo_writes_nothing():
    line = ordered_line()

    with pytest.raises(ValidationFailed) as error:
        services.review_create(
            buyer=line.order.buyer, order_line_id=line.pk, rating=5, text="Nice", photos=[photo(), text_file()]
        )

    assert (error.value.status, error.value.code, error.value.fields) == (
        422,
        "invalid_image",
        {"photos": "not_an_image"},
    )
    assert nothing_written()


def test_at_most_six_photos():
    line = ordered_line()

    with pytest.raises(ValidationFailed) as error:
        services.review_create(
            buyer=line.order.buyer, order_line_id=line.pk, rating=5, text="", photos=[photo() for _ in range(7)]
        )

    assert error.value.code == "too_many_photos"
    assert nothing_written()


def test_text_is_stored_as_plain_text_without_markup():
    line = ordered_line()

    review = services.review_create(
        buyer=line.order.buyer,
        order_line_id=line.pk,
        rating=5,
        text="<script>alert(1)</script>Tasty &lt;script&gt;alert(2)&lt;/script&gt; <b>tea</b> 3 < 5\nRe-bought!",
        photos=[],
    )

    assert review.text == "Tasty  tea 3 < 5\nRe-bought!"


def test_text_over_2000_characters_is_refused_not_cut():
    line = ordered_line()

    with pytest.raises(ValidationFailed) as error:
        services.review_create(buyer=line.order.buyer, order_line_id=line.pk, rating=5, text="a" * 2001, photos=[])

    assert error.value.code == "text_too_long"
    assert nothing_written()
    assert services.review_create(buyer=line.order.buyer, order_line_id=line.pk, rating=5, text="a" * 2000, photos=[])


def test_a_member_of_the_merchant_replies_once():
    merchant = MerchantFactory()
    staff = MerchantMemberFactory(merchant=merchant).user
    review = review_of(ordered_line(product=ProductFactory(merchant=merchant)))

    reply = services.review_reply(actor=staff, review_id=review.pk, text="Thank you! <i>See you</i> again.")

    assert (reply.review_id, reply.merchant_id, reply.author_id, reply.text) == (
        review.pk,
        merchant.pk,
        staff.pk,
        "Thank you! See you again.",
    )
    with pytest.raises(Conflict) as error:
        services.review_reply(actor=merchant.owner, review_id=review.pk, text="Twice")
    assert error.value.code == "already_replied"
    assert MerchantReply.objects.count() == 1


@pytest.mark.parametrize("who", ["other_merchant", "buyer", "stranger"])
def test_only_the_products_merchant_may_reply(who):
    review = review_of(ordered_line())
    actor = {
        "other_merchant": lambda: MerchantFactory().owner,
        "buyer": lambda: review.buyer,
        "stranger": UserFactory,
    }[who]()

    with pytest.raises(NotFound):
        services.review_reply(actor=actor, review_id=review.pk, text="Thanks")

    assert not MerchantReply.objects.exists()


def test_an_empty_reply_is_refused():
    merchant = MerchantFactory()
    review = review_of(ordered_line(product=ProductFactory(merchant=merchant)))

    with pytest.raises(ValidationFailed) as error:
        services.review_reply(actor=merchant.owner, review_id=review.pk, text="  <b></b> ")

    assert error.value.code == "text_required"
    assert not MerchantReply.objects.exists()


def test_a_curator_hides_a_review_and_it_leaves_the_list_and_the_rating():
    line = ordered_line()
    hidden = review_of(line, rating=1)
    kept = review_of(ordered_line(product=line.product), rating=5)
    curator = CuratorFactory()

    services.review_hide(actor=curator, review_id=hidden.pk, reason="Paid review ring")

    hidden.refresh_from_db()
    assert (hidden.status, hidden.hidden_reason, hidden.hidden_by_id) == ("hidden", "Paid review ring", curator.pk)
    items, _cursor = selectors.product_reviews(product_id=line.product_id, cursor=None, limit=20)
    assert [r.pk for r in items] == [kept.pk]
    summary = selectors.product_rating_summary(product_id=line.product_id)
    assert (summary.count, summary.average) == (1, 5.0)
    # Hiding again keeps the first decision.
    services.review_hide(actor=CuratorFactory(), review_id=hidden.pk, reason="Other")
    hidden.refresh_from_db()
    assert (hidden.hidden_reason, hidden.hidden_by_id) == ("Paid review ring", curator.pk)


@pytest.mark.parametrize("who", ["merchant", "buyer"])
def test_only_curators_hide_reviews(who):
    review = review_of(ordered_line())
    actor = review.buyer if who == "buyer" else review.product.merchant.memberships.first().user

    with pytest.raises(PermissionDenied):
        services.review_hide(actor=actor, review_id=review.pk, reason="Mean")

    review.refresh_from_db()
    assert review.status == "visible"


def test_the_rating_summary_is_a_bayesian_average_in_one_query(django_assert_num_queries):
    product = ProductFactory()
    for rating in (5, 5, 4, 1):
        review_of(ordered_line(product=product), rating=rating)

    with django_assert_num_queries(1):
        summary = selectors.product_rating_summary(product_id=product.pk)

    assert summary.count == 4
    assert summary.average == 3.75
    assert summary.score == pytest.approx((5 * 4.0 + 15) / 9)
    assert summary.stars == {1: 1, 2: 0, 3: 0, 4: 1, 5: 2}


def test_no_ratings_score_the_prior():
    summary = selectors.product_rating_summary(product_id=ProductFactory().pk)

    assert (summary.count, summary.average, summary.score) == (0, None, 4.0)
    assert selectors.bayesian_score(count=1, total=5) == pytest.approx(25 / 6)


def test_reviewable_lines_are_my_received_lines_without_a_review():
    buyer = UserFactory()
    delivered = ordered_line(buyer=buyer)
    completed = ordered_line(buyer=buyer, upto="completed")
    ordered_line(buyer=buyer, upto="shipped")
    review_of(ordered_line(buyer=buyer))
    ordered_line()  # someone else's

    lines = selectors.reviewable_lines(buyer=buyer).order_by("id")

    assert [line.pk for line in lines] == [delivered.pk, completed.pk]


def test_a_line_returned_in_full_cannot_be_reviewed():
    # given a received line whose every unit was returned and refunded
    line = ordered_line(upto="delivered")
    type(line).objects.filter(pk=line.pk).update(refunded_quantity=line.quantity, refunded_amount=line.paid_amount)

    # when the buyer tries to review it
    with pytest.raises(ValidationFailed):
        services.review_create(buyer=line.order.buyer, order_line_id=line.pk, rating=5, text="", photos=[photo()])

    # then nothing is written and it is not offered for review
    assert nothing_written()
    assert line.pk not in {lin.pk for lin in selectors.reviewable_lines(buyer=line.order.buyer)}
