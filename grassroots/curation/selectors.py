"""Reads for screening."""

from __future__ import annotations

from grassroots.curation.models import ScreeningStage


def stages_by_code() -> dict[str, ScreeningStage]:
    return {stage.code: stage for stage in ScreeningStage.objects.all()}
