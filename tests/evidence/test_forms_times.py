"""Dates and times in forms, file names and dossier numbers, in the owner's language and time zone.

Django renders a date or time widget in the active language's first input format unless told
otherwise: in Chinese that was "2026/11/30 06:11", which a datetime-local input shows as empty, so a
new call could not be saved without typing its time and an edit wiped it. Every date and time input
carries the ISO value its type requires, in every form and both languages.
"""

from __future__ import annotations

import inspect
import json
import re
import struct
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

import accounts.forms
import complaints.forms
import evidence.forms
from accounts.services import profile_for, profile_update
from complaints.models import Dossier
from evidence.models import EvidenceFile, Incident, IncidentKind
from evidence.services import incident_create
from tests.conftest import amr_bytes, jpeg_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGUAGES = ["zh-hans", "en"]
ISO = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "datetime-local": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$"),
    "time": re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
}
DATE_WIDGETS = (forms.DateInput, forms.DateTimeInput, forms.TimeInput)


class Inputs(HTMLParser):
    """Every form control of a page: (tag, attributes), and each textarea's text."""

    def __init__(self):
        super().__init__()
        self.found: list[dict] = []
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("input", "select", "textarea", "option"):
            self.found.append({"tag": tag, **attributes})
        if tag == "textarea":
            self._textarea = self.found[-1]
            self._textarea["value"] = ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None


def controls(html: str) -> list[dict]:
    parser = Inputs()
    parser.feed(html)
    return parser.found


def time_inputs(html: str) -> list[dict]:
    return [c for c in controls(html) if c["tag"] == "input" and c.get("type") in ISO]


def assert_iso(html: str, where: str) -> list[dict]:
    found = time_inputs(html)
    for control in found:
        value = control.get("value")
        if value is not None:
            assert ISO[control["type"]].match(value), f"{where}: {control.get('name')}={value!r}"
    return found


# --- every form class with a date or time field --------------------------------------------------

SAMPLE = {
    forms.DateInput: date(2026, 11, 30),
    forms.DateTimeInput: datetime(2026, 11, 30, 6, 11, 5),
    forms.TimeInput: datetime(2026, 11, 30, 6, 11, 5).time(),
}

# How to make each form; a new form with a date or time field must be added here (the test below
# fails until it is).
MAKERS = {
    evidence.forms.IncidentForm: lambda **kw: [
        evidence.forms.IncidentForm(kind=k, **kw) for k in IncidentKind
    ],
    evidence.forms.TimelineFilterForm: lambda **kw: [evidence.forms.TimelineFilterForm(**kw)],
    complaints.forms.DossierForm: lambda **kw: [complaints.forms.DossierForm(**kw)],
    # The day the debt began (issue 27).
    evidence.forms.CaseForm: lambda **kw: [evidence.forms.CaseForm(**kw)],
}


def form_classes_with_dates():
    for module in (evidence.forms, complaints.forms, accounts.forms):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                if any(isinstance(f.widget, DATE_WIDGETS) for f in cls.base_fields.values()):
                    yield cls


def test_every_form_with_a_date_or_time_is_covered():
    assert set(form_classes_with_dates()) == set(MAKERS)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("cls", list(MAKERS), ids=lambda c: c.__name__)
def test_every_date_and_time_input_renders_an_iso_value(db, cls, language):
    fields = {
        name: SAMPLE[type(field.widget)]
        for name, field in cls.base_fields.items()
        if isinstance(field.widget, DATE_WIDGETS)
    }
    with translation.override(language):
        for form in MAKERS[cls](initial=fields):
            html = str(form)
            found = assert_iso(html, f"{cls.__name__} in {language}")
            assert {c["name"] for c in found} == {n for n in fields if n in form.fields}
            assert all(c.get("value") for c in found)


# --- the pages, in both languages ----------------------------------------------------------------


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def speak(user, language):
    profile_update(profile=profile_for(user), language=language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_form_carries_iso_times(logged_in, alice, alice_incident, language):
    speak(alice, language)
    case = alice_incident.case
    pages = [f"/cases/{case.pk}/log/{kind}/" for kind in IncidentKind.values]
    pages += [
        f"/incidents/{alice_incident.pk}/edit/",
        f"/cases/{case.pk}/?date_from=2024-03-01&date_to=2024-03-31",
        f"/cases/{case.pk}/dossiers/new/",
    ]
    for path in pages:
        response = logged_in.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Language"] == language
        found = assert_iso(response.content.decode(), f"{path} in {language}")
        if "/log/" in path or path.endswith("/edit/"):
            (when,) = [c for c in found if c["name"] == "occurred_at"]
            assert when.get("value"), path


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_new_entry_is_prefilled_with_the_local_time(logged_in, alice, alice_case, language):
    speak(alice, language)
    profile_update(profile=profile_for(alice), time_zone="America/New_York")
    before = timezone.now().replace(microsecond=0)
    html = logged_in.get(f"/cases/{alice_case.pk}/log/call/").content.decode()
    (when,) = [c for c in time_inputs(html) if c["name"] == "occurred_at"]
    shown = datetime.fromisoformat(when["value"]).replace(tzinfo=ZoneInfo("America/New_York"))
    assert before <= shown <= timezone.now()


def form_data(html: str, form_class: str) -> dict:
    """What a browser would post for the form with this class, untouched."""
    start = html.index(f'class="{form_class}') if f'class="{form_class}' in html else html.index(form_class)
    body = html[start : html.index("</form>", start)]
    data: dict = {}
    select = None
    for control in controls(body):
        name = control.get("name")
        if control["tag"] == "select":
            select = name
            continue
        if control["tag"] == "option":
            if "selected" in control and select:
                data[select] = control.get("value", "")
            continue
        if not name or control.get("type") in ("submit", "file"):
            continue
        if control.get("type") in ("checkbox", "radio"):
            if "checked" in control:
                data.setdefault(name, []).append(control.get("value", "on"))
            continue
        data[name] = control.get("value", "")
    return data


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_edit_saved_untouched_keeps_the_time_to_the_microsecond(logged_in, alice, alice_case, language):
    speak(alice, language)
    moment = datetime(2026, 11, 30, 6, 11, 5, 123456, tzinfo=SHANGHAI)
    incident = incident_create(case=alice_case, kind="call", occurred_at=moment, answered=True)
    html = logged_in.get(f"/incidents/{incident.pk}/edit/").content.decode()
    data = form_data(html, "stack incident-form")
    assert data["occurred_at"] == "2026-11-30T06:11:05"
    response = logged_in.post(f"/incidents/{incident.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    incident.refresh_from_db()
    assert incident.occurred_at == moment and incident.answered is True


def test_an_edited_time_is_saved(logged_in, alice_case):
    incident = incident_create(
        case=alice_case, kind="sms", occurred_at=datetime(2026, 11, 30, 6, 11, 5, 123456, tzinfo=SHANGHAI)
    )
    html = logged_in.get(f"/incidents/{incident.pk}/edit/").content.decode()
    data = {**form_data(html, "stack incident-form"), "occurred_at": "2026-11-30T06:12"}
    logged_in.post(f"/incidents/{incident.pk}/edit/", data)
    incident.refresh_from_db()
    assert incident.occurred_at == datetime(2026, 11, 30, 6, 12, tzinfo=SHANGHAI)


# --- a file chosen in the log form offers its time ------------------------------------------------


def ask_time(client, case, name, head=None):
    data = {"time_from_file": "1", "name": name}
    if head is not None:
        data["head"] = SimpleUploadedFile(name, head)
    response = client.post(f"/cases/{case.pk}/log/call/", data, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("通话录音@催收(17012345678)_20240315231000.amr", "2024-03-15T23:10:00"),  # MIUI
        ("17012345678_20240315231000.amr", "2024-03-15T23:10:00"),  # Huawei
        ("Call recording 催收_240315_231000.m4a", "2024-03-15T23:10:00"),  # Samsung
        ("20240315_151000.000+0000_in_17012345678.oga", "2024-03-15T23:10:00"),  # BCR, in UTC
        ("Screenshot_20240315-231000_Messages.png", "2024-03-15T23:10:00"),
    ],
)
def test_a_file_name_offers_its_time_in_local_time(logged_in, alice_case, name, local):
    answer = ask_time(logged_in, alice_case, name)
    assert answer["time"] == local
    assert answer["label"].endswith(" 2024-03-15 23:10")
    assert not Incident.objects.exists()


def test_a_photo_offers_its_exif_time(logged_in, alice, alice_case):
    speak(alice, "en")
    answer = ask_time(logged_in, alice_case, "IMG_0042.jpg", jpeg_bytes(exif_time="2024:03:15 23:10:00"))
    assert (
        answer["time"] == "2024-03-15T23:10:00"
        and answer["label"] == "Use the time in the file: 2024-03-15 23:10"
    )


def test_a_file_without_a_time_offers_none(logged_in, alice_case):
    answer = ask_time(logged_in, alice_case, "recording.amr", amr_bytes())
    assert answer["time"] is None and answer["message"]


def test_a_file_attached_in_the_log_form_is_kept_with_the_new_incident(logged_in, alice_case):
    name = "通话录音@催收(17012345678)_20240315231000.amr"
    response = logged_in.post(
        f"/cases/{alice_case.pk}/log/call/",
        {"occurred_at": "2024-03-15T23:10:00", "attachment": SimpleUploadedFile(name, amr_bytes())},
    )
    incident = Incident.objects.get()
    assert response["Location"] == f"/incidents/{incident.pk}/"
    evidence = EvidenceFile.objects.get(incident=incident)
    assert evidence.original_name == name and evidence.metadata["from_name"]["number"] == "17012345678"


def test_a_refused_attachment_still_logs_the_incident_and_says_so(logged_in, alice_case):
    response = logged_in.post(
        f"/cases/{alice_case.pk}/log/call/",
        {"occurred_at": "2024-03-15T23:10:00", "attachment": SimpleUploadedFile("x.exe", b"MZ" + bytes(300))},
        follow=True,
    )
    incident = Incident.objects.get()
    assert not EvidenceFile.objects.exists()
    assert response.redirect_chain[-1][0] == f"/incidents/{incident.pk}/"
    assert "x.exe" in response.content.decode()


def test_an_attachment_over_the_limit_saves_nothing_and_says_why(logged_in, alice_case, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    response = logged_in.post(
        f"/cases/{alice_case.pk}/log/call/",
        {
            "occurred_at": "2024-03-15T23:10:00",
            "attachment": SimpleUploadedFile("long.amr", amr_bytes(frames=200)),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["attachment"]
    assert not Incident.objects.exists() and not EvidenceFile.objects.exists()


def test_the_edit_form_has_no_attachment(logged_in, alice_incident):
    html = logged_in.get(f"/incidents/{alice_incident.pk}/edit/").content.decode()
    assert 'type="file"' not in html


# --- local dates in dossier numbers and generated names -------------------------------------------


def make_dossier(owner, case, created_at) -> Dossier:
    dossier = Dossier.objects.create(owner=owner, case=case, addressee="alipay")
    Dossier.objects.filter(pk=dossier.pk).update(created_at=created_at)
    return Dossier.objects.get(pk=dossier.pk)


def test_a_dossier_number_uses_the_owners_local_date(alice, alice_case):
    # 17:30 UTC on the 29th is 01:30 on the 30th in Shanghai.
    dossier = make_dossier(alice, alice_case, datetime(2026, 11, 29, 17, 30, tzinfo=UTC))
    assert dossier.number == f"CE-20261130-{dossier.pk:06d}"
    profile_update(profile=profile_for(alice), time_zone="America/New_York")
    assert Dossier.objects.get(pk=dossier.pk).number == f"CE-20261129-{dossier.pk:06d}"


def test_an_issued_dossier_keeps_the_number_sealed_in_its_manifest(alice, alice_case):
    """Dossiers issued before numbers used the local date were sealed with the UTC date."""
    dossier = make_dossier(alice, alice_case, datetime(2026, 11, 29, 17, 30, tzinfo=UTC))
    sealed = f"CE-20261129-{dossier.pk:06d}"
    manifest = json.dumps({"dossier": {"number": sealed}}, separators=(",", ":"))
    Dossier.objects.filter(pk=dossier.pk).update(manifest=manifest, status="ready")
    assert Dossier.objects.get(pk=dossier.pk).number == sealed


def webm_bytes() -> bytes:
    def ebml(element_id: bytes, body: bytes) -> bytes:
        return element_id + bytes([0x80 | len(body)]) + body

    info = ebml(b"\x2a\xd7\xb1", struct.pack(">I", 1_000_000)) + ebml(b"\x44\x89", struct.pack(">d", 2000.0))
    return (
        ebml(b"\x1a\x45\xdf\xa3", b"\x42\x82\x84webm")
        + b"\x18\x53\x80\x67"
        + b"\x01\xff\xff\xff\xff\xff\xff\xff"
        + ebml(b"\x15\x49\xa9\x66", info)
    )


def test_a_visit_recordings_name_uses_the_local_time(logged_in, alice_case):
    started = timezone.now().replace(microsecond=0) - timedelta(seconds=2)
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%S")  # what the page's recorder sends
    response = logged_in.post(
        f"/cases/{alice_case.pk}/record-visit/",
        {
            "file": SimpleUploadedFile(f"visit-{stamp}.webm", webm_bytes()),
            "started_at": started.isoformat(),
            "elapsed_seconds": "2",
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201, response.content
    evidence = EvidenceFile.objects.get()
    assert evidence.original_name == f"visit-{started.astimezone(SHANGHAI):%Y%m%d-%H%M%S}.webm"


def test_the_form_reader_reads_what_a_browser_posts():
    html = (
        '<form class="x"><input name="a" value="1"><select name="s"><option value="p">'
        '<option value="q" selected></select><textarea name="t">hi</textarea>'
        '<input type="checkbox" name="c" value="v" checked></form>'
    )
    assert form_data(html, "x") == {"a": "1", "s": "q", "t": "hi", "c": ["v"]}


def test_a_visit_recording_kept_offline_for_hours_keeps_the_time_it_was_made(logged_in, alice_case):
    """The recorder keeps a recording on the phone until the network returns; it says how long ago
    (by the phone's clock) recording began, so it is never filed at the time it finally arrived."""
    from evidence.models import Incident

    started = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    response = logged_in.post(
        f"/cases/{alice_case.pk}/record-visit/",
        {
            "file": SimpleUploadedFile("visit.webm", webm_bytes()),
            "started_at": started.isoformat(),
            "elapsed_seconds": "2",
            "age_seconds": str(3 * 3600),
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201, response.content
    visit = Incident.objects.get(kind="visit")
    assert abs((visit.occurred_at - started).total_seconds()) < 5
