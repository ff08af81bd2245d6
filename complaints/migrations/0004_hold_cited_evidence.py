# Files listed by dossiers issued before holds existed are held too, so deleting one later only
# hides it and the issued bundle stays complete.

import json

from django.db import migrations


def hold_cited_evidence(apps, schema_editor):
    Dossier = apps.get_model("complaints", "Dossier")
    EvidenceFile = apps.get_model("evidence", "EvidenceFile")
    for dossier in Dossier.objects.filter(status="ready").exclude(manifest="").iterator():
        try:
            manifest = json.loads(dossier.manifest)
        except ValueError:
            continue
        number = manifest.get("dossier", {}).get("number", "")
        reason = f"dossier {number}"
        ids = [entry.get("id") for entry in manifest.get("evidence", []) if entry.get("id")]
        for evidence in EvidenceFile._base_manager.filter(pk__in=ids):
            if reason not in evidence.holds:
                evidence.holds = [*evidence.holds, reason]
                evidence.save(update_fields=["holds"])


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0003_letter_choices"),
        ("evidence", "0010_withdrawn_evidence"),
    ]

    operations = [migrations.RunPython(hold_cited_evidence, migrations.RunPython.noop)]
