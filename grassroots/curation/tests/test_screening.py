from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.models import Product, ProductRevision, ProductStatusChange, Sku
from grassroots.catalog.tests.factories import listed_product_with_sku
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.curation import services
from grassroots.curation.models import Evidence, ProductReport, ScreeningStage, StageDecision, Submission
from grassroots.curation.tests.helpers import (
    PDF_BYTES,
    STAGES,
    pdf_upload,
    png_upload,
    submitted_product,
    text_upload,
)

API = "/api/v1/curation"


def _decide(client, submission, stage_code, decision="pass", notes="", files=()):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"stage_code": stage_code, "decision": decision, "notes": notes}
    if files:
        data["evidence"] = list(files)
    return client.post(f"{API}/submissions/{submission.pk}/decisions", data)


def _curator_client(client):  # type: ignore[no-untyped-def]
    curator = CuratorFactory()
    client.force_login(curator)
    return curator


# Stages ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_default_stages_are_seeded_in_order_with_both_languages():
    stages = list(ScreeningStage.objects.order_by("position"))

    assert [s.code for s in stages] == STAGES
    assert [s.name_zh for s in stages] == ["资质审核", "正品鉴定", "样品质检", "价格审核", "终审"]
    assert all(s.is_active and s.description and s.name_en for s in stages)


@pytest.mark.django_db
def test_curator_adds_renames_and_deactivates_stages_through_the_api(client):
    _curator_client(client)

    created = client.post(
        f"{API}/stages",
        {"code": "lab_test", "name_en": "Lab test", "name_zh": "实验室检测", "position": 35},
        content_type="application/json",
    )
    renamed = client.patch(
        f"{API}/stages/{created.json()['id']}",
        {"name_en": "Laboratory test"},
        content_type="application/json",
    )
    pricing = ScreeningStage.objects.get(code="pricing")
    deactivated = client.patch(f"{API}/stages/{pricing.pk}", {"is_active": False}, content_type="application/json")
    listed = client.get(f"{API}/stages")

    assert created.status_code == 201
    assert renamed.status_code == 200
    assert renamed.json()["name_en"] == "Laboratory test"
    assert deactivated.json()["is_active"] is False
    assert [s["code"] for s in listed.json()] == [*STAGES[:3], "lab_test", *STAGES[3:]]
    _, submission = submitted_product()
    assert submission.stage_plan == ["qualification", "authenticity", "sample_quality", "lab_test", "final"]


@pytest.mark.django_db
def test_open_submissions_keep_their_plan_when_stages_change():
    curator = CuratorFactory()
    _, submission = submitted_product()

    services.stage_update(actor=curator, stage=ScreeningStage.objects.get(code="authenticity"), is_active=False)

    submission.refresh_from_db()
    assert submission.stage_plan == STAGES


@pytest.mark.django_db
def test_stage_changes_need_a_curator_and_valid_input(client):
    client.force_login(UserFactory())
    forbidden = client.post(f"{API}/stages", {"code": "x_y", "name_en": "X"}, content_type="application/json")
    client.force_login(CuratorFactory())
    duplicate = client.post(f"{API}/stages", {"code": "final", "name_en": "Again"}, content_type="application/json")
    bad_code = client.post(f"{API}/stages", {"code": "Bad Code!", "name_en": "X"}, content_type="application/json")

    assert forbidden.status_code == 403
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "stage_code_taken"
    assert bad_code.status_code == 422
    assert ScreeningStage.objects.count() == 5


@pytest.mark.django_db
def test_the_last_active_stage_cannot_be_deactivated():
    curator = CuratorFactory()
    stages = list(ScreeningStage.objects.order_by("position"))
    for stage in stages[1:]:
        services.stage_update(actor=curator, stage=stage, is_active=False)

    with pytest.raises(Conflict) as error:
        services.stage_update(actor=curator, stage=stages[0], is_active=False)

    assert error.value.code == "last_active_stage"
    assert ScreeningStage.objects.filter(is_active=True).count() == 1


# The five stages --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_submitted_product_passes_all_five_stages_one_at_a_time_and_is_listed(client):
    curator = _curator_client(client)
    product, submission = submitted_product()
    assert product.status == Product.Status.IN_REVIEW
    assert submission.current_stage.code == "qualification"

    for index, code in enumerate(STAGES):
        response = _decide(client, submission, code, notes=f"{code} ok", files=[pdf_upload()])

        assert response.status_code == 201, response.content
        body = response.json()
        assert [d["stage"] for d in body["decisions"]] == STAGES[: index + 1]
        product.refresh_from_db()
        if index < len(STAGES) - 1:
            assert body["state"] == "in_review"
            assert body["current_stage"] == STAGES[index + 1]
            assert product.status == Product.Status.IN_REVIEW
            assert product.is_listed is False

    submission.refresh_from_db()
    assert submission.state == Submission.State.APPROVED
    assert submission.decided_at is not None
    assert product.status == Product.Status.LISTED
    assert product.is_listed is True
    assert product.passed_stages == STAGES
    assert StageDecision.objects.filter(submission=submission, reviewer=curator).count() == 5
    assert Evidence.objects.filter(decision__submission=submission).count() == 5
    assert list(product.status_changes.values_list("action", flat=True)) == ["submit", "approve"]


@pytest.mark.django_db
def test_a_decision_for_a_later_stage_is_409_and_writes_nothing(client):
    _curator_client(client)
    product, submission = submitted_product()

    response = _decide(client, submission, "authenticity", files=[pdf_upload()])

    assert response.status_code == 409
    assert response.json()["code"] == "stage_out_of_order"
    assert response.json()["fields"] == {"stage_code": "qualification"}
    submission.refresh_from_db()
    assert submission.current_stage.code == "qualification"
    assert StageDecision.objects.count() == 0
    assert Evidence.objects.count() == 0
    assert product.status_changes.count() == 1


@pytest.mark.django_db
def test_repeating_a_decided_stage_is_409(client):
    _curator_client(client)
    _, submission = submitted_product()
    assert _decide(client, submission, "qualification").status_code == 201

    again = _decide(client, submission, "qualification")

    assert again.status_code == 409
    assert again.json()["code"] == "stage_out_of_order"
    assert StageDecision.objects.count() == 1


@pytest.mark.django_db
def test_a_buyer_posting_a_decision_gets_403_and_nothing_is_written(client):
    client.force_login(UserFactory())
    _, submission = submitted_product()

    response = _decide(client, submission, "qualification", files=[pdf_upload()])

    assert response.status_code == 403
    assert StageDecision.objects.count() == 0
    assert Evidence.objects.count() == 0
    submission.refresh_from_db()
    assert submission.current_stage.code == "qualification"
    assert client.get(f"{API}/submissions").status_code == 403
    assert client.get(f"{API}/submissions/{submission.pk}").status_code == 403


@pytest.mark.django_db
def test_the_service_refuses_non_curators():
    _, submission = submitted_product()

    with pytest.raises(PermissionDenied):
        services.stage_decision_record(
            submission=submission, stage_code="qualification", reviewer=UserFactory(), decision="pass", notes=""
        )

    assert StageDecision.objects.count() == 0


@pytest.mark.django_db
def test_request_changes_moves_the_product_and_records_the_notes(client):
    curator = _curator_client(client)
    product, submission = submitted_product()
    _decide(client, submission, "qualification")

    response = _decide(client, submission, "authenticity", "request_changes", notes="Upload the import invoice.")

    assert response.status_code == 201
    assert response.json()["state"] == "changes_requested"
    product.refresh_from_db()
    assert product.status == Product.Status.CHANGES_REQUESTED
    assert product.is_listed is False
    last = product.status_changes.last()
    assert (last.action, last.from_status, last.to_status, last.note, last.actor_id) == (
        "request_changes",
        "in_review",
        "changes_requested",
        "Upload the import invoice.",
        curator.pk,
    )
    # The merchant answers by submitting again: a fresh pass from the first stage.
    resubmitted = services.submission_open(product=product, actor_id=product.merchant.memberships.get().user_id)
    assert resubmitted.current_stage.code == "qualification"
    assert Submission.objects.filter(product=product).count() == 2


@pytest.mark.django_db
def test_request_changes_and_reject_need_notes(client):
    _curator_client(client)
    product, submission = submitted_product()

    response = _decide(client, submission, "qualification", "reject", notes="  ")

    assert response.status_code == 422
    assert response.json()["fields"] == {"notes": "required"}
    assert StageDecision.objects.count() == 0
    product.refresh_from_db()
    assert product.status == Product.Status.IN_REVIEW


@pytest.mark.django_db
def test_reject_turns_the_product_down(client):
    curator = _curator_client(client)
    product, submission = submitted_product()

    response = _decide(client, submission, "qualification", "reject", notes="Licence does not cover cosmetics.")

    assert response.status_code == 201
    assert response.json()["state"] == "rejected"
    product.refresh_from_db()
    assert product.status == Product.Status.REJECTED
    assert product.is_listed is False
    last = product.status_changes.last()
    assert (last.action, last.note, last.actor_id) == ("reject", "Licence does not cover cosmetics.", curator.pk)
    closed = _decide(client, submission, "qualification")
    assert closed.status_code == 409
    assert closed.json()["code"] == "submission_closed"


@pytest.mark.django_db
def test_evidence_that_is_not_pdf_or_image_is_422_and_nothing_is_written(client, private_files):
    _curator_client(client)
    _, submission = submitted_product()

    response = _decide(client, submission, "qualification", files=[pdf_upload(), text_upload()])

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_document"
    assert StageDecision.objects.count() == 0
    assert Evidence.objects.count() == 0
    assert [p for p in private_files.rglob("*") if p.is_file()] == []
    submission.refresh_from_db()
    assert submission.current_stage.code == "qualification"


@pytest.mark.django_db
def test_submission_open_refuses_a_second_open_submission():
    product, _ = submitted_product()

    with pytest.raises(Conflict) as error:
        services.submission_open(product=product, actor_id=None)

    assert error.value.code == "already_in_review"
    assert Submission.objects.filter(product=product).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_curators_passing_the_same_stage_at_once_advance_it_once():
    _, submission = submitted_product()
    curators = [CuratorFactory(), CuratorFactory()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(curator) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            services.stage_decision_record(
                submission=Submission.objects.get(pk=submission.pk),
                stage_code="qualification",
                reviewer=curator,
                decision="pass",
                notes="",
            )
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(c,)) for c in curators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok", "stage_out_of_order"]
    submission.refresh_from_db()
    assert submission.current_stage.code == "authenticity"
    assert StageDecision.objects.filter(submission=submission).count() == 1


# Revisions ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_approved_revision_applies_the_new_title_and_price_at_the_last_stage():
    curator = CuratorFactory()
    product, sku = listed_product_with_sku(price_amount=9900)
    revision = ProductRevision.objects.create(
        product=product,
        payload={"title_en": "Aged Pu'er 2015", "skus": [{"code": sku.code, "price_amount": 12900}]},
    )
    submission = services.submission_open(
        product=product, actor_id=None, reason=Submission.Reason.REVISION, revision=revision
    )

    for code in STAGES[:-1]:
        services.stage_decision_record(
            submission=submission, stage_code=code, reviewer=curator, decision="pass", notes=""
        )
        product.refresh_from_db()
        assert product.title_en != "Aged Pu'er 2015"  # buyers keep the approved version meanwhile
        assert product.is_listed is True
    services.stage_decision_record(
        submission=submission, stage_code="final", reviewer=curator, decision="pass", notes=""
    )

    product.refresh_from_db()
    revision.refresh_from_db()
    assert product.title_en == "Aged Pu'er 2015"
    assert product.status == Product.Status.LISTED
    assert product.is_listed is True
    assert Sku.objects.get(pk=sku.pk).price_amount == 12900
    assert product.min_price == 12900
    assert revision.state == ProductRevision.State.APPLIED
    assert product.status_changes.last().action == "approve_revision"


@pytest.mark.django_db
def test_a_rejected_revision_keeps_the_listed_product():
    curator = CuratorFactory()
    product, _ = listed_product_with_sku()
    title = product.title_en
    revision = ProductRevision.objects.create(product=product, payload={"title_en": "Genuine Rolex"})
    submission = services.submission_open(
        product=product, actor_id=None, reason=Submission.Reason.REVISION, revision=revision
    )

    services.stage_decision_record(
        submission=submission, stage_code="qualification", reviewer=curator, decision="reject", notes="No licence."
    )

    product.refresh_from_db()
    revision.refresh_from_db()
    assert (product.title_en, product.status, product.is_listed) == (title, Product.Status.LISTED, True)
    assert revision.state == ProductRevision.State.DISCARDED


# Reports --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_report_on_a_listed_product_opens_a_re_review_and_the_product_stays_listed(client):
    buyer = UserFactory()
    client.force_login(buyer)
    product, _ = listed_product_with_sku()

    response = client.post(
        f"{API}/reports",
        {
            "product_id": product.pk,
            "kind": "counterfeit",
            "description": "Logo is misprinted.",
            "evidence": [png_upload()],
        },
    )

    assert response.status_code == 201, response.content
    report = ProductReport.objects.get()
    assert (report.reporter, report.state, report.kind) == (buyer, ProductReport.State.OPEN, "counterfeit")
    assert report.evidence.count() == 1
    submission = Submission.objects.get(product=product)
    assert (submission.reason, submission.state, submission.current_stage.code) == ("report", "in_review", STAGES[0])
    assert report.submission == submission
    product.refresh_from_db()
    assert (product.status, product.is_listed) == (Product.Status.LISTED, True)
    assert product.status_changes.count() == 0
    # A second report joins the same re-review.
    client.force_login(UserFactory())
    second = client.post(f"{API}/reports", {"product_id": product.pk, "kind": "quality", "description": "Broke."})
    assert second.status_code == 201
    assert Submission.objects.filter(product=product).count() == 1
    assert second.json()["submission_id"] == submission.pk


@pytest.mark.django_db
def test_a_re_review_passed_at_every_stage_leaves_the_product_listed():
    curator = CuratorFactory()
    product, _ = listed_product_with_sku()
    report = services.product_report_create(
        reporter=UserFactory(), product=product, kind="quality", description="Smells odd."
    )

    for code in STAGES:
        services.stage_decision_record(
            submission=report.submission, stage_code=code, reviewer=curator, decision="pass", notes=""
        )

    product.refresh_from_db()
    assert (product.status, product.is_listed, product.passed_stages) == (Product.Status.LISTED, True, STAGES)
    assert product.status_changes.last().action == "approve_review"


@pytest.mark.django_db
def test_rejecting_a_reported_product_delists_it_and_actions_its_reports():
    curator = CuratorFactory()
    product, _ = listed_product_with_sku()
    report = services.product_report_create(
        reporter=UserFactory(), product=product, kind="counterfeit", description="Fake."
    )

    services.stage_decision_record(
        submission=report.submission,
        stage_code="qualification",
        reviewer=curator,
        decision="reject",
        notes="Counterfeit confirmed.",
    )

    product.refresh_from_db()
    report.refresh_from_db()
    assert (product.status, product.is_listed) == (Product.Status.REJECTED, False)
    assert (report.state, report.handled_by, report.resolution) == ("actioned", curator, "Counterfeit confirmed.")


@pytest.mark.django_db
def test_reports_only_for_listed_products_and_valid_input(client):
    client.force_login(UserFactory())
    draft, _ = submitted_product()
    listed, _ = listed_product_with_sku()

    unlisted = client.post(f"{API}/reports", {"product_id": draft.pk, "kind": "other", "description": "x"})
    bad_kind = client.post(f"{API}/reports", {"product_id": listed.pk, "kind": "spam", "description": "x"})
    bad_file = client.post(
        f"{API}/reports",
        {"product_id": listed.pk, "kind": "other", "description": "x", "evidence": [text_upload()]},
    )

    assert unlisted.status_code == 404
    assert bad_kind.status_code == 422
    assert bad_file.status_code == 422
    assert bad_file.json()["code"] == "invalid_document"
    assert ProductReport.objects.count() == 0
    assert Submission.objects.filter(product=listed).count() == 0


@pytest.mark.django_db
def test_anonymous_callers_cannot_report(client):
    product, _ = listed_product_with_sku()

    response = client.post(f"{API}/reports", {"product_id": product.pk, "kind": "other", "description": "x"})

    assert response.status_code == 401
    assert ProductReport.objects.count() == 0


@pytest.mark.django_db
def test_one_open_report_per_person_and_product():
    buyer = UserFactory()
    product, _ = listed_product_with_sku()
    services.product_report_create(reporter=buyer, product=product, kind="other", description="One.")

    with pytest.raises(Conflict) as error:
        services.product_report_create(reporter=buyer, product=product, kind="other", description="Two.")

    assert error.value.code == "already_reported"
    assert ProductReport.objects.count() == 1


@pytest.mark.django_db
def test_reports_are_rate_limited_per_user(client):
    buyer = UserFactory()
    client.force_login(buyer)
    products = [listed_product_with_sku()[0] for _ in range(11)]
    statuses = [
        client.post(f"{API}/reports", {"product_id": p.pk, "kind": "other", "description": "Hm."}).status_code
        for p in products
    ]

    assert statuses == [201] * 10 + [429]
    assert ProductReport.objects.filter(reporter=buyer).count() == 10


@pytest.mark.django_db
def test_report_list_is_scoped_and_resolving_needs_a_curator(client):
    product, _ = listed_product_with_sku()
    mine = UserFactory()
    theirs = services.product_report_create(reporter=UserFactory(), product=product, kind="other", description="A")
    own = services.product_report_create(reporter=mine, product=product, kind="quality", description="B")
    client.force_login(mine)

    listed = client.get(f"{API}/reports")
    other = client.get(f"{API}/reports/{theirs.pk}")
    resolve = client.post(
        f"{API}/reports/{own.pk}/resolve",
        {"outcome": "dismissed", "resolution": "x"},
        content_type="application/json",
    )

    assert [r["id"] for r in listed.json()["items"]] == [own.pk]
    assert other.status_code == 404
    assert resolve.status_code == 403
    own.refresh_from_db()
    assert own.state == ProductReport.State.OPEN


@pytest.mark.django_db
def test_curator_resolves_a_report_once(client):
    curator = _curator_client(client)
    product, _ = listed_product_with_sku()
    report = services.product_report_create(reporter=UserFactory(), product=product, kind="other", description="?")

    first = client.post(
        f"{API}/reports/{report.pk}/resolve",
        {"outcome": "dismissed", "resolution": "Genuine: matched the brand's serial."},
        content_type="application/json",
    )
    second = client.post(
        f"{API}/reports/{report.pk}/resolve",
        {"outcome": "actioned", "resolution": "Changed my mind."},
        content_type="application/json",
    )
    everything = client.get(f"{API}/reports?state=dismissed")

    assert first.status_code == 200
    assert first.json()["state"] == "dismissed"
    assert second.status_code == 409
    assert second.json()["code"] == "report_closed"
    report.refresh_from_db()
    assert (report.state, report.handled_by, report.resolution) == (
        "dismissed",
        curator,
        "Genuine: matched the brand's serial.",
    )
    assert [r["id"] for r in everything.json()["items"]] == [report.pk]


# Suspension -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_suspend_delists_at_once_withdraws_review_and_actions_reports(client):
    curator = _curator_client(client)
    product, _ = listed_product_with_sku()
    report = services.product_report_create(
        reporter=UserFactory(), product=product, kind="counterfeit", description="!"
    )

    response = client.post(
        f"{API}/products/{product.pk}/suspend", {"reason": "Counterfeit batch."}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json() == {"id": product.pk, "status": "suspended", "is_listed": False, "submission_id": None}
    product.refresh_from_db()
    assert (product.status, product.is_listed) == (Product.Status.SUSPENDED, False)
    change = ProductStatusChange.objects.get(product=product)
    assert (change.action, change.from_status, change.to_status, change.note, change.actor_id) == (
        "suspend",
        "listed",
        "suspended",
        "Counterfeit batch.",
        curator.pk,
    )
    report.refresh_from_db()
    assert (report.state, report.handled_by) == (ProductReport.State.ACTIONED, curator)
    assert report.submission.state == Submission.State.WITHDRAWN


@pytest.mark.django_db
def test_suspend_needs_a_curator_and_a_reason(client):
    product, _ = listed_product_with_sku()
    client.force_login(UserFactory())
    forbidden = client.post(f"{API}/products/{product.pk}/suspend", {"reason": "x"}, content_type="application/json")
    client.force_login(CuratorFactory())
    no_reason = client.post(f"{API}/products/{product.pk}/suspend", {"reason": " "}, content_type="application/json")

    assert forbidden.status_code == 403
    assert no_reason.status_code == 422
    product.refresh_from_db()
    assert (product.status, product.is_listed) == (Product.Status.LISTED, True)
    assert ProductStatusChange.objects.count() == 0


@pytest.mark.django_db
def test_reinstate_reopens_screening_from_the_first_stage(client):
    curator = _curator_client(client)
    product, _ = listed_product_with_sku()
    services.product_suspend(product=product, actor=curator, reason="Checking a complaint.")

    response = client.post(f"{API}/products/{product.pk}/reinstate")
    again = client.post(f"{API}/products/{product.pk}/reinstate")

    assert response.status_code == 201
    assert response.json()["status"] == "in_review"
    assert response.json()["is_listed"] is False
    submission = Submission.objects.get(pk=response.json()["submission_id"])
    assert (submission.reason, submission.current_stage.code) == ("reinstate", "qualification")
    assert again.status_code == 409
    for code in STAGES:
        services.stage_decision_record(
            submission=submission, stage_code=code, reviewer=curator, decision="pass", notes=""
        )
    product.refresh_from_db()
    assert (product.status, product.is_listed) == (Product.Status.LISTED, True)


@pytest.mark.django_db
def test_services_raise_for_bad_calls():
    curator = CuratorFactory()
    product, _ = listed_product_with_sku()

    with pytest.raises(Conflict):
        services.product_reinstate(product=product, actor=curator)
    draft, _ = submitted_product()
    with pytest.raises(NotFound):
        services.product_report_create(reporter=UserFactory(), product=draft, kind="other", description="x")
    with pytest.raises(ValidationFailed):
        services.report_resolve(
            report=services.product_report_create(
                reporter=UserFactory(), product=product, kind="other", description="x"
            ),
            actor=curator,
            outcome="open",
            resolution="x",
        )


# Queues ------------------------------------------------------------------------------------------


def _queue_queries(client, n):  # type: ignore[no-untyped-def]
    for _ in range(n):
        submitted_product()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{API}/submissions?stage=qualification&state=in_review&limit=50")
    assert response.status_code == 200
    assert len(response.json()["items"]) == n
    return len(queries)


@pytest.mark.django_db
def test_queue_list_query_count_does_not_grow_with_the_queue(client):
    _curator_client(client)
    few = _queue_queries(client, 3)
    Submission.objects.all().delete()
    many = _queue_queries(client, 15)

    assert few == many
    assert many <= 6


@pytest.mark.django_db
def test_queue_page_query_count_does_not_grow_with_the_queue(client):
    _curator_client(client)

    def page_queries(n: int) -> int:
        for _ in range(n):
            submitted_product()
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/curation/queue/qualification/")
        assert len(response.context["submissions"]) == n
        return len(queries)

    client.get("/curation/queue/qualification/")  # warm the header's cached unread counts
    few = page_queries(3)
    Submission.objects.all().delete()
    many = page_queries(15)

    assert few == many


@pytest.mark.django_db
def test_queue_is_oldest_first_and_paginates(client):
    _curator_client(client)
    made = [submitted_product()[1] for _ in range(3)]

    first = client.get(f"{API}/submissions?stage=qualification&state=in_review&limit=2").json()
    second = client.get(
        f"{API}/submissions?stage=qualification&state=in_review&limit=2&cursor={first['next_cursor']}"
    ).json()

    assert [s["id"] for s in first["items"] + second["items"]] == [s.pk for s in made]
    assert second["next_cursor"] is None


@pytest.mark.django_db
def test_evidence_is_served_only_to_curators_and_the_reporter(client):
    reporter = UserFactory()
    product, _ = listed_product_with_sku()
    report = services.product_report_create(
        reporter=reporter, product=product, kind="counterfeit", description="See invoice.", evidence=[pdf_upload()]
    )
    evidence = report.evidence.get()

    client.force_login(UserFactory())
    stranger = client.get(f"/curation/evidence/{evidence.pk}/")
    stranger_api = client.get(f"{API}/evidence/{evidence.pk}")
    client.force_login(reporter)
    own = client.get(f"/curation/evidence/{evidence.pk}/")
    client.force_login(CuratorFactory())
    curator = client.get(f"{API}/evidence/{evidence.pk}")

    assert stranger.status_code == 404
    assert stranger_api.status_code == 404
    assert own.status_code == 200
    assert b"".join(own.streaming_content) == PDF_BYTES
    assert own["Content-Type"] == "application/pdf"
    assert own["Content-Security-Policy"].startswith("sandbox")
    assert curator.status_code == 200
    assert not evidence.file.name.startswith("/")
    assert "invoice" not in evidence.file.name
