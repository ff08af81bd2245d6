"""After an upgrade the worker stamps and reads what earlier releases never did, once."""

from __future__ import annotations

import pytest

from complaints.backfill import upgrade_backfill
from core.queues import QUEUES
from evidence.models import EvidenceFile, TextStatus
from stamps.models import Leaf

pytestmark = pytest.mark.django_db


def test_files_and_images_from_before_the_upgrade_are_queued_once(alice, alice_incident, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evidence.services import evidence_store
    from tests.conftest import amr_bytes, png_bytes

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend", "QUEUES": QUEUES}}
    audio = evidence_store(
        incident=alice_incident, upload=SimpleUploadedFile("a.amr", amr_bytes(), content_type="audio/amr")
    )
    image = evidence_store(
        incident=alice_incident, upload=SimpleUploadedFile("s.png", png_bytes(), content_type="image/png")
    )
    # As an earlier release left them: no timestamp leaf, no recognized-text row.
    Leaf.objects.all().delete()
    EvidenceFile.all_objects.get(pk=image.pk).recognized_text.delete()

    run = upgrade_backfill()
    assert (run.stamped, run.to_read) == (2, 1)
    leaves = Leaf.objects.filter(kind="evidence").order_by("ref")
    assert sorted(leaf.ref for leaf in leaves) == sorted([str(audio.pk), str(image.pk)])
    assert all(leaf.at_upgrade for leaf in leaves)
    assert {leaf.sha256 for leaf in leaves} == {audio.sha256, image.sha256}
    assert EvidenceFile.all_objects.get(pk=image.pk).recognized_text.status == TextStatus.PENDING

    again = upgrade_backfill()
    assert (again.stamped, again.to_read) == (0, 0)
    assert Leaf.objects.filter(kind="evidence").count() == 2
