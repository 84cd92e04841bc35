from django.contrib import admin

from grassroots.curation.models import Evidence, ProductReport, ScreeningStage, StageDecision, Submission


@admin.register(ScreeningStage)
class ScreeningStageAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_zh", "position", "is_active"]
    list_editable = ["position", "is_active"]
    ordering = ["position", "id"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Frozen stage plans refer to codes, so a code never changes once it exists.
        return ["code"] if obj is not None else []


class StageDecisionInline(admin.TabularInline):
    model = StageDecision
    extra = 0
    can_delete = False
    fields = ["stage", "decision", "reviewer", "notes", "created_at"]
    readonly_fields = ["stage", "decision", "reviewer", "notes", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """Read-only: decisions go through the screening pages so the guards and audit rows apply."""

    list_display = ["id", "product", "reason", "state", "current_stage", "created_at", "decided_at"]
    list_filter = ["state", "reason", "current_stage"]
    search_fields = ["product__title_en", "product__title_zh"]
    list_select_related = ["product", "current_stage"]
    raw_id_fields = ["product", "revision", "submitted_by"]
    inlines = [StageDecisionInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class EvidenceInline(admin.TabularInline):
    model = Evidence
    fk_name = "report"
    extra = 0
    can_delete = False
    fields = ["original_name", "file_kind", "created_at"]
    readonly_fields = ["original_name", "file_kind", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ProductReport)
class ProductReportAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "kind", "state", "reporter", "created_at", "handled_at"]
    list_filter = ["state", "kind"]
    search_fields = ["product__title_en", "description", "reporter__email"]
    list_select_related = ["product", "reporter"]
    raw_id_fields = ["product", "reporter", "handled_by", "submission"]
    readonly_fields = ["product", "reporter", "kind", "description", "submission", "created_at"]
    inlines = [EvidenceInline]


@admin.register(StageDecision)
class StageDecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "submission", "stage", "decision", "reviewer", "created_at"]
    list_filter = ["decision", "stage"]
    list_select_related = ["stage", "reviewer"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    """Metadata only; the files are served by the authorised evidence view, never from /media/."""

    list_display = ["id", "original_name", "file_kind", "decision", "report", "uploaded_by", "created_at"]
    list_filter = ["file_kind"]
    exclude = ["file"]
    readonly_fields = ["original_name", "file_kind", "decision", "report", "uploaded_by", "created_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
