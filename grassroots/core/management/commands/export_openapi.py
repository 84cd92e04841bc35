import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from django.test import Client


def openapi_json() -> str:
    """Exactly what /api/v1/openapi.json serves."""
    schema = Client().get("/api/v1/openapi.json").json()
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Write the API's OpenAPI schema to docs/openapi.json (committed, and checked by the tests)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", default="docs/openapi.json")

    def handle(self, *args: Any, **options: Any) -> None:
        Path(options["output"]).write_text(openapi_json(), encoding="utf-8")
        self.stdout.write(f"wrote {options['output']}")
