"""Seed the five default screening stages. They are data: curators rename, reorder or retire them."""

from django.db import migrations

DEFAULT_STAGES = [
    (
        "qualification",
        "Qualification",
        "资质审核",
        "The merchant's licence and brand authorisation cover this product and category.",
    ),
    (
        "authenticity",
        "Authenticity",
        "正品鉴定",
        "The goods are genuine: supply chain documents, invoices and brand marks check out.",
    ),
    (
        "sample_quality",
        "Sample quality",
        "样品质检",
        "A sample was inspected or tested and matches the listing.",
    ),
    (
        "pricing",
        "Pricing",
        "价格审核",
        "The price and commission are fair against the market and the brand's own channels.",
    ),
    (
        "final",
        "Final review",
        "终审",
        "Listing text, images and variants are accurate and complete.",
    ),
]


def seed(apps, schema_editor):
    ScreeningStage = apps.get_model("curation", "ScreeningStage")
    for position, (code, name_en, name_zh, description) in enumerate(DEFAULT_STAGES, start=1):
        ScreeningStage.objects.get_or_create(
            code=code,
            defaults={
                "name_en": name_en,
                "name_zh": name_zh,
                "description": description,
                "position": position * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0002_evidence_owner_report_submission"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
