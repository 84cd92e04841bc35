"""Real parallel connections submitting the same line: one review wins, the others get a 409 and
leave no rows or files behind."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from grassroots.core.errors import Conflict
from grassroots.reviews import services
from grassroots.reviews.models import Review, ReviewPhoto
from grassroots.reviews.tests.factories import media_files, ordered_line, photo

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_parallel_submissions_of_one_line_make_exactly_one_review():
    line = ordered_line()
    buyer = line.order.buyer
    workers = 8
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submit(n: int) -> None:
        try:
            barrier.wait()
            try:
                services.review_create(
                    buyer=buyer, order_line_id=line.pk, rating=n % 5 + 1, text=f"try {n}", photos=[photo(f"{n}.png")]
                )
                outcome = "ok"
            except Conflict as error:
                outcome = error.code
            with lock:
                outcomes.append(outcome)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(outcomes) == ["already_reviewed"] * (workers - 1) + ["ok"]
    assert Review.objects.count() == 1
    assert ReviewPhoto.objects.count() == 1
    photo_row = ReviewPhoto.objects.get()
    assert media_files(settings.MEDIA_ROOT) == sorted([photo_row.image.name, photo_row.thumbnail.name])
