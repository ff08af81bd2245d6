# Profiles and tokens now belong to the accounts app, the audit chain to the ledger app. The tables
# stay where they are (see those apps' first migrations); here the evidence app forgets the models,
# and the content types (which admin permissions point to) follow them to their new apps.

from django.db import migrations

MOVED = {"profile": "accounts", "apitoken": "accounts", "audithead": "ledger", "auditevent": "ledger"}


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label=app_label, model=model).exists():
            ContentType.objects.filter(app_label="evidence", model=model).update(app_label=app_label)


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label="evidence", model=model).exists():
            ContentType.objects.filter(app_label=app_label, model=model).update(app_label="evidence")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("evidence", "0007_phone_import_version"),
        ("accounts", "0001_initial"),
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(move_content_types, move_content_types_back),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Profile"),
                migrations.DeleteModel(name="ApiToken"),
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="AuditHead"),
            ],
            database_operations=[],
        ),
    ]
