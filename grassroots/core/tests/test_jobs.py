"""The periodic jobs: when each is due, and `manage.py run_jobs` (what `make run` starts) running
them, a failing one included."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command, get_commands
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.tests.factories import SkuFactory
from grassroots.core.jobs import JOBS, Job, jobs_due, seconds_until_next
from grassroots.orders import services
from grassroots.orders.models import Checkout
from grassroots.orders.tests.factories import AddressFactory

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MINUTE = Job("every_minute", timedelta(minutes=1), "")
HOUR = Job("every_hour", timedelta(hours=1), "")


def test_every_job_is_a_command_and_appears_once() -> None:
    names = [job.command for job in JOBS]

    assert len(names) == len(set(names))
    assert set(names) <= set(get_commands())


def test_jobs_never_started_are_due_and_others_once_their_interval_has_passed() -> None:
    assert jobs_due(now=NOW, last_started={}, jobs=[MINUTE, HOUR]) == [MINUTE, HOUR]
    started = {"every_minute": NOW - timedelta(seconds=59), "every_hour": NOW - timedelta(minutes=59)}
    assert jobs_due(now=NOW, last_started=started, jobs=[MINUTE, HOUR]) == []
    started = {"every_minute": NOW - timedelta(seconds=60), "every_hour": NOW - timedelta(minutes=61)}
    assert jobs_due(now=NOW, last_started=started, jobs=[MINUTE, HOUR]) == [MINUTE, HOUR]


def test_the_runner_sleeps_until_the_next_job_is_due() -> None:
    started = {"every_minute": NOW - timedelta(seconds=45), "every_hour": NOW}

    assert seconds_until_next(now=NOW, last_started=started, jobs=[MINUTE, HOUR]) == 15
    assert seconds_until_next(now=NOW, last_started={"every_hour": NOW}, jobs=[MINUTE, HOUR]) == 0
    overdue = {"every_minute": NOW - timedelta(minutes=5), "every_hour": NOW}
    assert seconds_until_next(now=NOW, last_started=overdue, jobs=[MINUTE, HOUR]) == 0


def _overdue_checkout() -> tuple[Checkout, int]:
    buyer = UserFactory()
    sku = SkuFactory(stock=5)
    checkout = services.checkout_place(
        buyer=buyer,
        address_id=AddressFactory(owner=buyer).pk,
        items=[(sku.pk, 2)],
        now=timezone.now() - timedelta(minutes=31),
    )
    return checkout, sku.pk


@pytest.mark.django_db
def test_run_jobs_once_runs_every_job_and_expires_an_abandoned_checkout() -> None:
    from grassroots.catalog.models import Sku

    checkout, sku_id = _overdue_checkout()
    out = StringIO()

    call_command("run_jobs", "--once", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split(" ", 2)[2].split(":")[0] for line in lines] == [job.command for job in JOBS]
    assert any("expired 1 checkouts" in line for line in lines)
    assert Checkout.objects.get(pk=checkout.pk).status == "expired"
    assert Sku.objects.values_list("stock", "reserved").get(pk=sku_id) == (5, 0)


@pytest.mark.django_db
def test_a_failing_job_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from grassroots.core.management.commands import run_jobs

    broken = Job("no_such_command", timedelta(minutes=1), "")
    monkeypatch.setattr(run_jobs, "JOBS", (broken, *JOBS[:1]))
    checkout, _sku_id = _overdue_checkout()
    out, err = StringIO(), StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("run_jobs", "--once", stdout=out, stderr=err)

    assert exited.value.code == 1
    assert "no_such_command failed" in err.getvalue()
    assert "expire_checkouts: expired 1 checkouts" in out.getvalue()
    assert Checkout.objects.get(pk=checkout.pk).status == "expired"


@pytest.mark.django_db(transaction=True)
def test_run_jobs_keeps_running_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    from grassroots.core.management.commands import run_jobs

    quick = Job("expire_checkouts", timedelta(milliseconds=50), "")
    monkeypatch.setattr(run_jobs, "JOBS", (quick,))
    command = run_jobs.Command()
    out, err = StringIO(), StringIO()
    runner = threading.Thread(target=call_command, args=(command,), kwargs={"stdout": out, "stderr": err})

    runner.start()
    try:
        deadline = timezone.now() + timedelta(seconds=10)
        while out.getvalue().count("expire_checkouts:") < 3 and timezone.now() < deadline:
            time.sleep(0.02)
    finally:
        command.stop.set()
        runner.join(10)

    assert not runner.is_alive()
    assert out.getvalue().count("expire_checkouts:") >= 3, err.getvalue()
