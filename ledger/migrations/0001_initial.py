# The audit chain moved here from the evidence app. Its tables keep their names
# (evidence_audithead, evidence_auditevent): this migration only tells Django's state where the
# models now live; no table is created, copied or renamed.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        # The tables were created by the evidence app's migrations.
        ("evidence", "0007_phone_import_version"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditHead",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("seq", models.PositiveBigIntegerField(default=0)),
                        ("hash", models.CharField(default="0" * 64, max_length=64)),
                        ("owner", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                       related_name="audit_head", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "evidence_audithead", "verbose_name": "audit chain head",
                             "verbose_name_plural": "audit chain heads"},
                ),
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("seq", models.PositiveBigIntegerField()),
                        ("action", models.CharField(max_length=40)),
                        ("subject_type", models.CharField(max_length=40)),
                        ("subject_id", models.CharField(max_length=40)),
                        ("payload", models.JSONField(default=dict)),
                        ("payload_digest", models.CharField(max_length=64)),
                        ("at", models.DateTimeField()),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("hash", models.CharField(max_length=64)),
                        ("owner", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                    related_name="audit_events", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "evidence_auditevent",
                        "ordering": ["owner_id", "seq"],
                        "verbose_name": "audit event",
                        "verbose_name_plural": "audit events",
                        "constraints": [models.UniqueConstraint(fields=("owner", "seq"),
                                                                name="audit_event_unique_seq")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
