"""The committed OpenAPI schema is the contract mobile apps build against: it must match the served one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from grassroots.core.management.commands.export_openapi import openapi_json

COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def test_committed_schema_matches_the_code():
    assert COMMITTED.exists(), "run `make openapi` and commit docs/openapi.json"
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == json.loads(openapi_json()), (
        "the API changed: run `make openapi` and commit docs/openapi.json"
    )


@pytest.mark.django_db
def test_served_schema_is_the_committed_one(client):
    served = client.get("/api/v1/openapi.json").json()
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_every_operation_documents_the_error_shape_or_is_public_read():
    schema = json.loads(openapi_json())
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert len(operations) > 40
    assert all(op.get("operationId") for op in operations)
