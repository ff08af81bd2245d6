"""A file is kept as a PDF only when it opens as one: anything can begin with `%PDF-` (issue 25)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvidenceFile
from tests.conftest import pdf_bytes


def upload(api, incident, name: str, data: bytes):
    return api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )


def test_a_real_pdf_is_kept(alice_api, alice_incident):
    data = pdf_bytes("催收函")
    response = upload(alice_api, alice_incident, "letter.pdf", data)
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "application/pdf"
    assert response.json()["size"] == len(data)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n<html><script>alert(1)</script></html>\n",
        b"%PDF-1.7\n" + bytes(20_000),
        # The markers a naive check looks for, with nothing behind them.
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\nstartxref\n9\n%%EOF\n",
        b"%PDF-",
    ],
    ids=["html", "zeros", "markers only", "header only"],
)
def test_a_file_that_only_begins_like_a_pdf_is_refused_with_415(alice_api, alice_incident, data):
    response = upload(alice_api, alice_incident, "letter.pdf", data)
    assert response.status_code == 415, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_pdf"
    assert "letter.pdf" in error["message"]
    assert not EvidenceFile.all_objects.exists()


def test_a_pdf_cut_short_is_refused(alice_api, alice_incident):
    data = pdf_bytes()
    response = upload(alice_api, alice_incident, "letter.pdf", data[: len(data) // 2])
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "invalid_pdf"


def test_the_upload_page_says_why_too(client, alice, alice_incident):
    client.force_login(alice)
    response = client.post(
        f"/incidents/{alice_incident.pk}/evidence/",
        {"files": SimpleUploadedFile("letter.pdf", b"%PDF-1.4\nnot really\n")},
        follow=True,
    )
    assert not EvidenceFile.all_objects.exists()
    assert "letter.pdf" in response.content.decode()
