"""Index Product.search_text for substring search on PostgreSQL (docs/adr/0005-search.md).

A GIN trigram index lets `search_text LIKE '%term%'` use an index for terms of three or more
characters in any script. SQLite has no trigram index; a scan is fine at embedded scale.
"""

from django.db import migrations

INDEX = "catalog_product_search_trgm"


def create_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_product USING gin (search_text gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other indexes may use it, and dropping it needs more privileges.
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
