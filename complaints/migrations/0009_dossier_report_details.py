# Issue 26: the reporter's address, the police station and the harm, asked in the builder.
# Expand only: every column has a database default, so the previous release keeps writing rows.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0008_dossier_drafts"),
    ]

    operations = [
        migrations.AddField(
            model_name="dossier",
            name="contact_address",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=300, verbose_name="your address"
            ),
        ),
        migrations.AddField(
            model_name="dossier",
            name="police_station",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=200, verbose_name="police station"
            ),
        ),
        migrations.AddField(
            model_name="dossier",
            name="harm",
            field=models.TextField(blank=True, db_default="", default="", verbose_name="harm done"),
        ),
    ]
