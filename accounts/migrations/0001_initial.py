# Profiles and API tokens moved here from the evidence app. Their tables keep their names
# (evidence_profile, evidence_apitoken): this migration only tells Django's state where the models
# now live; no table is created, copied or renamed, so existing accounts and tokens keep working.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import accounts.models


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
                    name="Profile",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("display_name", models.CharField(blank=True, max_length=100, verbose_name="display name")),
                        ("phone", models.CharField(blank=True, max_length=40, verbose_name="phone")),
                        ("id_number", models.CharField(
                            blank=True, help_text="Only shown masked in a complaint, e.g. 1101**********1234.",
                            max_length=40, verbose_name="ID number")),
                        ("time_zone", models.CharField(default="Asia/Shanghai", max_length=64,
                                                       validators=[accounts.models.validate_time_zone],
                                                       verbose_name="time zone")),
                        ("language", models.CharField(choices=[("zh-hans", "简体中文"), ("en", "English")],
                                                      default="zh-hans", max_length=10, verbose_name="language")),
                        ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                      related_name="profile", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "evidence_profile", "verbose_name": "profile",
                             "verbose_name_plural": "profiles"},
                ),
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("name", models.CharField(max_length=100, verbose_name="name")),
                        ("prefix", models.CharField(max_length=12)),
                        ("digest", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                        ("last_used_at", models.DateTimeField(blank=True, null=True, verbose_name="last used")),
                        ("revoked_at", models.DateTimeField(blank=True, null=True, verbose_name="revoked")),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                   related_name="api_tokens", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "evidence_apitoken", "verbose_name": "API token",
                             "verbose_name_plural": "API tokens", "ordering": ["-created_at"]},
                ),
            ],
            database_operations=[],
        ),
    ]
