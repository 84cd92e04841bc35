"""Real parallel connections: racing decisions and racing applications each let exactly one through."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.core.errors import Conflict, ServiceError
from grassroots.merchants import services
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantStatusChange
from grassroots.merchants.tests.factories import AppliedMerchantFactory, pdf_upload, png_upload

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def _race(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Start every job at one barrier, each on its own thread and database connection."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = jobs[index]()
        except BaseException as error:  # collected and asserted on by the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_racing_verify_and_reject_decide_once():
    merchant = AppliedMerchantFactory()
    curators = CuratorFactory.create_batch(2)

    results = _race(
        [
            lambda: services.merchant_verify(merchant=Merchant.objects.get(pk=merchant.pk), actor=curators[0]),
            lambda: services.merchant_reject(
                merchant=Merchant.objects.get(pk=merchant.pk), actor=curators[1], reason="Blurred licence."
            ),
        ]
    )

    wins = [r for r in results if isinstance(r, Merchant)]
    losses = [r for r in results if isinstance(r, ServiceError)]
    assert (len(wins), len(losses)) == (1, 1), results
    assert losses[0].status == 409
    assert Merchant.objects.get(pk=merchant.pk).status == wins[0].status
    assert MerchantStatusChange.objects.filter(merchant=merchant).count() == 1


def test_racing_applications_by_one_user_create_one():
    user = UserFactory()

    def apply(n: int) -> Callable[[], Merchant]:
        return lambda: services.merchant_apply(
            user=user,
            name=f"Racer {n}",
            description="",
            brand_names="",
            contact_email="racer@example.com",
            business_licence=pdf_upload(),
            brand_authorisation=png_upload(),
        )

    results = _race([apply(n) for n in range(4)])

    assert sum(isinstance(r, Merchant) for r in results) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Merchant)), results
    assert Merchant.objects.filter(applicant=user).count() == 1
    assert MerchantDocument.objects.count() == 2
