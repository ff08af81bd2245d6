"""The fast paths of a phone import give the same results as the slow ones (issue 28).

The XML parser reads <call> and <sms> straight from expat's callbacks instead of building an element
tree, and the findings after an import are re-evaluated only for the days the new entries can
change. Neither may change what a person gets: the same entries, the same refusals, the same
findings and summary as a full re-evaluation of the case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import Incident
from tests.conftest import calls_xml

SHANGHAI = ZoneInfo("Asia/Shanghai")
REAL = Path(__file__).parent / "fixtures" / "real"
COLLECTOR = "17012345678"


def entries_of(parse, data: bytes):
    import io

    from evidence.phone_logs import PhoneLogError

    try:
        return [
            None
            if e is None
            else (e.kind, e.direction, e.number, e.at, e.duration, e.contact_name, e.body, e.images)
            for e in parse(io.BytesIO(data), SHANGHAI, None)
        ]
    except PhoneLogError as exc:
        return ("refused", str(exc))


EXPORTS = {
    **{path.name: path.read_bytes() for path in sorted(REAL.glob("*.xml"))},
    "namespaced": b'<calls xmlns="urn:x"><call number="1" date="1700000000000" type="1" duration="3"/></calls>',
    "dtd": b'<?xml version="1.0"?><!DOCTYPE calls [<!ENTITY a "aaaa">]><calls><call number="&a;"/></calls>',
    "external": b'<?xml version="1.0"?><!DOCTYPE calls SYSTEM "http://example.com/x.dtd"><calls/>',
    "truncated": b'<calls><call number="1" date="1700000000000" type="1" duration="3"/><call number="2" da',
    "empty": b"",
    "unknown root": b"<foo/>",
    "nested mms": (
        b'<smses><mms date="1700000000" msg_box="1" address="10086"><parts><part ct="text/plain" text="hi"/>'
        b'</parts><addrs><addr address="10086" type="137"/></addrs></mms>'
        b'<sms address="10086" date="1700000001000" type="1" body="&#xD83D;&#xDE00; x"/></smses>'
    ),
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_the_lean_parser_reads_every_export_as_the_element_tree_did(name):
    from evidence.phone_logs import _tree_items, _xml_items

    lean, tree = entries_of(_xml_items, EXPORTS[name]), entries_of(_tree_items, EXPORTS[name])
    assert lean == tree
    if name in ("dtd", "external"):
        assert lean[0] == "refused" and "DTD" in lean[1]


def day_calls(day: datetime, count: int, minute0: int = 0):
    """`count` answered calls from the collector, ten minutes apart from 10:00 + minute0."""
    return [(COLLECTOR, day + timedelta(hours=10, minutes=minute0 + 10 * i), 1, 60, "") for i in range(count)]


def findings_by_incident(case):
    return dict(Incident.objects.filter(case=case).values_list("id", "violations"))


def test_the_refresh_after_an_import_equals_a_full_re_evaluation(alice_api, alice_case):
    from evidence.findings import case_violations_refresh

    first_day = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    # Days 1-9 hold three answered calls each in the afternoon (the day's limit, no finding yet).
    earlier = [call for d in range(9) for call in day_calls(first_day + timedelta(days=d), 3, minute0=300)]
    response = alice_api.post(
        "/api/v1/imports/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("a.xml", calls_xml(earlier))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    late_on_day_5 = Incident.objects.filter(
        case=alice_case, occurred_at=first_day + timedelta(days=4, hours=10, minutes=320)
    ).get()
    assert late_on_day_5.violations == []
    # A second export adds two morning calls on day 5: the afternoon calls that day become the
    # fourth and fifth of the day, over the limit, although they were not imported now.
    response = alice_api.post(
        "/api/v1/imports/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("b.xml", calls_xml(day_calls(first_day + timedelta(days=4), 2))),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    late_on_day_5.refresh_from_db()
    assert "CN-FREQ-1" in [f["rule"] for f in late_on_day_5.violations]
    after_import = findings_by_incident(alice_case)
    alice_case.refresh_from_db()
    summary = alice_case.violation_summary
    assert summary == {"CN-FREQ-1": 2}  # the fourth and fifth call of day 5
    # A full re-evaluation of the whole case changes nothing: the same findings, the same summary.
    assert case_violations_refresh(case=alice_case) == summary
    assert findings_by_incident(alice_case) == after_import


def test_the_refresh_reads_only_the_days_an_import_can_change(alice_api, alice_case):
    """An incident weeks away from the imported entries is not re-evaluated (its stored findings,
    here deliberately stale, stay as they are); the next full refresh corrects it."""
    from evidence.findings import case_violations_refresh

    far = datetime(2026, 1, 1, 10, tzinfo=SHANGHAI)
    response = alice_api.post(
        "/api/v1/imports/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("a.xml", calls_xml(day_calls(far, 1)))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    stale = [{"rule": "stale", "params": {}}]
    Incident.objects.filter(case=alice_case, occurred_at__lt=far + timedelta(days=1)).update(
        violations=stale, violation_rules=" stale "
    )
    later = day_calls(datetime(2026, 3, 1, tzinfo=SHANGHAI), 4)
    response = alice_api.post(
        "/api/v1/imports/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("b.xml", calls_xml(later))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Incident.objects.filter(case=alice_case, violations=stale).count() == 1
    alice_case.refresh_from_db()
    assert alice_case.violation_summary.get("stale") == 1  # counted from the stored rows
    case_violations_refresh(case=alice_case)
    assert not Incident.objects.filter(case=alice_case, violations=stale).exists()
