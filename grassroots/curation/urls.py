from django.urls import URLPattern, URLResolver, path

from grassroots.curation import views

app_name = "curation"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.dashboard, name="dashboard"),
    path("queue/<slug:stage_code>/", views.queue, name="queue"),
    path("submissions/<int:submission_id>/", views.submission_review, name="submission"),
    path("submissions/<int:submission_id>/decision/", views.submission_decide, name="decide"),
    path("products/<int:product_id>/", views.product_review, name="product"),
    path("products/<int:product_id>/suspend/", views.product_suspend, name="suspend"),
    path("products/<int:product_id>/reinstate/", views.product_reinstate, name="reinstate"),
    path("reports/", views.report_list, name="reports"),
    path("reports/<int:report_id>/", views.report_detail, name="report"),
    path("reports/<int:report_id>/resolve/", views.report_resolve, name="resolve"),
    path("stages/", views.stage_list, name="stages"),
    path("stages/<int:stage_id>/", views.stage_update, name="stage_update"),
    path("stages/<int:stage_id>/move/", views.stage_move, name="stage_move"),
    path("evidence/<int:evidence_id>/", views.evidence, name="evidence"),
    path("report/<int:product_id>/", views.report_product, name="report_product"),
]
