from __future__ import annotations

import pytest

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.catalog.models import Product, ProductRevision
from grassroots.catalog.tests.factories import listed_product_with_sku
from grassroots.curation import services
from grassroots.curation.models import Evidence, ProductReport, ScreeningStage, StageDecision, Submission
from grassroots.curation.tests.helpers import STAGES, pdf_upload, png_upload, submitted_product, text_upload


@pytest.mark.django_db
def test_review_page_shows_the_product_the_plan_and_a_decision_form(client):
    client.force_login(CuratorFactory())
    product, submission = submitted_product(title_en="Jasmine Silver Needle", brand="Fuding Co.")

    response = client.get(f"/curation/submissions/{submission.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Jasmine Silver Needle" in html
    assert "Fuding Co." in html
    assert "¥99.00" in html
    assert product.merchant.name in html
    assert "Decide: Qualification" in html
    assert f'action="/curation/submissions/{submission.pk}/decision/"' in html
    assert 'name="evidence" multiple' in html
    assert f'action="/curation/products/{product.pk}/suspend/"' in html
    for stage in ScreeningStage.objects.all():
        assert stage.name_en in html


@pytest.mark.django_db
def test_review_page_of_a_revision_shows_proposed_values_next_to_listed_ones(client):
    client.force_login(CuratorFactory())
    product, sku = listed_product_with_sku(price_amount=9900)
    revision = ProductRevision.objects.create(
        product=product, payload={"title_en": "Brand-new title", "skus": [{"code": sku.code, "price_amount": 15900}]}
    )
    submission = services.submission_open(
        product=product, actor_id=None, reason=Submission.Reason.REVISION, revision=revision
    )

    html = client.get(f"/curation/submissions/{submission.pk}/").content.decode()

    assert "Proposed changes" in html
    assert product.title_en in html
    assert "Brand-new title" in html
    assert "¥99.00" in html
    assert "¥159.00" in html


@pytest.mark.django_db
def test_a_decision_posted_through_the_form_advances_one_stage_and_keeps_the_evidence(client):
    curator = CuratorFactory()
    client.force_login(curator)
    _, submission = submitted_product()

    response = client.post(
        f"/curation/submissions/{submission.pk}/decision/",
        {"stage_code": "qualification", "decision": "pass", "notes": "Licence checked.", "evidence": [pdf_upload()]},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/curation/submissions/{submission.pk}/"  # on to its next stage
    submission.refresh_from_db()
    assert submission.current_stage.code == "authenticity"
    decision = StageDecision.objects.get()
    assert (decision.stage.code, decision.reviewer, decision.notes) == ("qualification", curator, "Licence checked.")
    evidence = decision.evidence.get()
    page = client.get(f"/curation/submissions/{submission.pk}/").content.decode()
    assert "Licence checked." in page
    assert f"/curation/evidence/{evidence.pk}/" in page
    assert "Decide: Authenticity" in page
    assert client.get(f"/curation/evidence/{evidence.pk}/").status_code == 200


@pytest.mark.django_db
def test_a_bad_form_post_shows_the_error_and_writes_nothing(client):
    client.force_login(CuratorFactory())
    _, submission = submitted_product()

    no_notes = client.post(
        f"/curation/submissions/{submission.pk}/decision/",
        {"stage_code": "qualification", "decision": "reject", "notes": ""},
    )
    bad_file = client.post(
        f"/curation/submissions/{submission.pk}/decision/",
        {"stage_code": "qualification", "decision": "pass", "evidence": [text_upload()]},
    )
    skipping = client.post(
        f"/curation/submissions/{submission.pk}/decision/", {"stage_code": "final", "decision": "pass"}
    )

    assert no_notes.status_code == 422
    assert "notes are required" in no_notes.content.decode()
    assert bad_file.status_code == 422
    assert "PDF or an image" in bad_file.content.decode()
    assert skipping.status_code == 409
    assert StageDecision.objects.count() == 0
    assert Evidence.objects.count() == 0


@pytest.mark.django_db
def test_curator_pages_are_403_for_buyers_and_ask_anonymous_visitors_to_sign_in(client):
    _, submission = submitted_product()
    urls = [
        "/curation/",
        "/curation/queue/qualification/",
        f"/curation/submissions/{submission.pk}/",
        f"/curation/products/{submission.product_id}/",
        "/curation/reports/",
        "/curation/stages/",
    ]

    anonymous = [client.get(url) for url in urls]
    client.force_login(UserFactory())
    buyer = [client.get(url).status_code for url in urls]
    decided = client.post(
        f"/curation/submissions/{submission.pk}/decision/", {"stage_code": "qualification", "decision": "pass"}
    )

    assert all(r.status_code == 302 and r["Location"].startswith("/accounts/login/") for r in anonymous)
    assert buyer == [403] * len(urls)
    assert decided.status_code == 403
    assert StageDecision.objects.count() == 0


@pytest.mark.django_db
def test_dashboard_counts_each_stage_and_open_reports(client):
    client.force_login(CuratorFactory())
    submitted_product()
    _, moved = submitted_product()
    services.stage_decision_record(
        submission=moved, stage_code="qualification", reviewer=CuratorFactory(), decision="pass", notes=""
    )
    product, _ = listed_product_with_sku()
    services.product_report_create(reporter=UserFactory(), product=product, kind="other", description="?")

    response = client.get("/curation/")

    counts = {row.stage.code: row.waiting for row in response.context["counts"]}
    assert counts == {"qualification": 2, "authenticity": 1, "sample_quality": 0, "pricing": 0, "final": 0}
    assert response.context["open_reports"] == 1
    assert "1 open report" in response.content.decode()
    queue = client.get("/curation/queue/qualification/")
    assert [s.reason for s in queue.context["submissions"]] == ["new", "report"]


@pytest.mark.django_db
def test_suspend_form_delists_and_reinstate_form_reopens_screening(client):
    client.force_login(CuratorFactory())
    product, _ = listed_product_with_sku()

    suspended = client.post(f"/curation/products/{product.pk}/suspend/", {"reason": "Seller under investigation."})
    product.refresh_from_db()
    assert suspended.status_code == 302
    assert (product.status, product.is_listed) == (Product.Status.SUSPENDED, False)
    assert "Reopen screening" in client.get(f"/curation/products/{product.pk}/").content.decode()

    reinstated = client.post(f"/curation/products/{product.pk}/reinstate/")

    submission = Submission.objects.get(product=product)
    assert reinstated["Location"] == f"/curation/submissions/{submission.pk}/"
    product.refresh_from_db()
    assert product.status == Product.Status.IN_REVIEW


@pytest.mark.django_db
def test_report_pages_list_show_and_resolve(client):
    product, _ = listed_product_with_sku()
    report = services.product_report_create(
        reporter=UserFactory(),
        product=product,
        kind="counterfeit",
        description="Hologram missing.",
        evidence=[png_upload()],
    )
    client.force_login(CuratorFactory())

    listing = client.get("/curation/reports/").content.decode()
    detail = client.get(f"/curation/reports/{report.pk}/").content.decode()
    resolved = client.post(
        f"/curation/reports/{report.pk}/resolve/", {"outcome": "dismissed", "resolution": "Hologram is present."}
    )

    assert "Hologram missing." in listing
    assert f"/curation/evidence/{report.evidence.get().pk}/" in detail
    assert resolved.status_code == 302
    report.refresh_from_db()
    assert (report.state, report.resolution) == (ProductReport.State.DISMISSED, "Hologram is present.")


@pytest.mark.django_db
def test_buyer_reports_a_product_through_the_form(client):
    buyer = UserFactory()
    client.force_login(buyer)
    product, _ = listed_product_with_sku()

    form = client.get(f"/curation/report/{product.pk}/")
    sent = client.post(
        f"/curation/report/{product.pk}/",
        {"kind": "counterfeit", "description": "Stitching is wrong.", "evidence": [png_upload()]},
    )
    after = client.get(f"/curation/report/{product.pk}/").content.decode()

    assert form.status_code == 200
    assert sent.status_code == 302
    report = ProductReport.objects.get()
    assert (report.reporter, report.kind, report.evidence.count()) == (buyer, "counterfeit", 1)
    assert "Your reports on this product" in after
    assert client.get(f"/curation/evidence/{report.evidence.get().pk}/").status_code == 200
    product.refresh_from_db()
    assert product.is_listed is True


@pytest.mark.django_db
def test_report_page_is_404_for_unlisted_products_and_needs_sign_in(client):
    draft, _ = submitted_product()
    listed, _ = listed_product_with_sku()

    anonymous = client.get(f"/curation/report/{listed.pk}/")
    client.force_login(UserFactory())
    unlisted = client.get(f"/curation/report/{draft.pk}/")
    empty = client.post(f"/curation/report/{listed.pk}/", {"kind": "other", "description": ""})

    assert anonymous.status_code == 302
    assert unlisted.status_code == 404
    assert empty.status_code == 422
    assert ProductReport.objects.count() == 0


@pytest.mark.django_db
def test_stage_page_adds_renames_reorders_and_deactivates(client):
    client.force_login(CuratorFactory())

    added = client.post(
        "/curation/stages/", {"code": "lab_test", "name_en": "Lab test", "name_zh": "实验室检测", "description": ""}
    )
    lab = ScreeningStage.objects.get(code="lab_test")
    client.post(f"/curation/stages/{lab.pk}/move/", {"direction": "up"})
    pricing = ScreeningStage.objects.get(code="pricing")
    client.post(
        f"/curation/stages/{pricing.pk}/",
        {
            f"s{pricing.pk}-name_en": "Price check",
            f"s{pricing.pk}-name_zh": "价格审核",
            f"s{pricing.pk}-description": "",
        },
    )
    page = client.get("/curation/stages/")

    assert added.status_code == 302
    assert list(ScreeningStage.objects.order_by("position").values_list("code", flat=True)) == [
        *STAGES[:4],
        "lab_test",
        "final",
    ]
    pricing.refresh_from_db()
    assert (pricing.name_en, pricing.is_active) == ("Price check", False)
    assert "Price check" in page.content.decode()
    _, submission = submitted_product()
    assert submission.stage_plan == ["qualification", "authenticity", "sample_quality", "lab_test", "final"]
