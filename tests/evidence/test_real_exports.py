"""What real phones and apps produce (phone-formats.md, "Seen in real exports"), read from samples that
other projects keep (tests/evidence/fixtures/real/README.md names where each came from)."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from evidence.metadata import audio_metadata, normalise_number, parse_file_name
from evidence.models import EvidenceFile, Incident, PhoneImport
from evidence.phone_logs import PhoneLogError, counterpart, iter_entries, settle_date_order, summarise
from evidence.sniffing import sniff

REAL = Path(__file__).parent / "fixtures" / "real"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def real(name: str) -> bytes:
    return (REAL / name).read_bytes()


def entries_of(name: str, date_order: str | None = None):
    fmt, entries = iter_entries(io.BytesIO(real(name)), SHANGHAI, date_order)
    return fmt, list(entries), entries


def post_import(api, case, data: bytes, name: str, **extra):
    return api.post(
        "/api/v1/imports/",
        {"case": case.pk, "file": SimpleUploadedFile(name, data), **extra},
        format="multipart",
    )


@pytest.fixture
def english(alice):
    from accounts.services import profile_for, profile_update

    profile_update(profile=profile_for(alice), language="en")  # messages are checked in English


# --- SMS Backup & Restore: dates in seconds, senders that are no phone number, repeats ----------


def test_sms_and_mms_dates_in_seconds_are_read_as_seconds_never_1970():
    fmt, items, entries = entries_of("sms_mixed_real_shapes.xml")
    assert fmt == "sms_xml" and entries.implausible == 0
    # <sms date="1710484222"> (seconds) and <sms date="1710484282000"> (milliseconds), one minute apart.
    assert items[0].at == datetime(2024, 3, 15, 6, 30, 22, tzinfo=UTC)
    assert items[1].at == datetime(2024, 3, 15, 6, 31, 22, tzinfo=UTC)
    mms = [e for e in items if e.body == "Letzte Mahnung"][0]
    assert mms.at == datetime(2024, 3, 15, 6, 34, 22, tzinfo=UTC)  # <mms date> in seconds too
    assert all(e.at.year == 2024 for e in items)
    # readable_date is in German, Russian, French and Chinese orders and is never read.


def test_email_short_code_and_alphanumeric_senders_are_kept_as_written():
    _fmt, items, _entries = entries_of("sms_mixed_real_shapes.xml")
    numbers = [e.number for e in items]
    assert "VM-HDFCBK" in numbers  # not "" (digit-stripped)
    assert "collections@example-agency.com" in numbers  # not a number made of nothing
    assert "95188" in numbers and "28444" in numbers  # short codes stay digits
    # A group MMS lists three addresses ("~" and <addrs>): the sender is the one of type 137.
    group = [e for e in items if e.body == "in the parking lot"][0]
    assert group.number == "+13015251780"


def test_a_sender_kept_as_written_fits_the_incident_field_and_survives_the_number_filter():
    long_sender = "x" * 80 + "@example.com"
    assert len(counterpart(long_sender)) == 64
    assert normalise_number(counterpart("VM-HDFCBK")) == "VM-HDFCBK"  # the import's number filter
    assert normalise_number("+86 170 1234 5678") == "+8617012345678"  # phone numbers as before
    assert counterpart("-2") == counterpart("Private") == ""


def test_mms_from_an_email_address_is_imported_with_that_address(alice_api, alice_case):
    response = post_import(
        alice_api,
        alice_case,
        real("sms_mixed_real_shapes.xml"),
        "sms-20240316.xml",
        numbers="collections@example-agency.com,VM-HDFCBK",
    )
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2
    stored = set(Incident.objects.filter(kind="sms").values_list("counterpart_number", flat=True))
    assert stored == {"collections@example-agency.com", "VM-HDFCBK"}


def test_entries_an_export_repeats_verbatim_are_counted_and_imported_once(alice_api, alice_case):
    summary = summarise(io.BytesIO(real("sms_mixed_real_shapes.xml")), tz=SHANGHAI, known_numbers=set())
    assert summary["messages"] == 7 and summary["repeated"] == 1
    response = post_import(
        alice_api, alice_case, real("sms_mixed_real_shapes.xml"), "sms.xml", numbers="95188"
    )
    assert response.json()["created"] == 1 and response.json()["duplicates"] == 1
    again = post_import(alice_api, alice_case, real("sms_mixed_real_shapes.xml"), "sms.xml", numbers="95188")
    assert again.json()["created"] == 0


def test_call_logs_backup_and_restore_calls_with_a_hidden_caller():
    fmt, items, _entries = entries_of("calls_call_logs_backup.xml")
    assert fmt == "calls_xml"
    assert items[0].at == datetime(2017, 4, 27, 17, 27, 56, 76000, tzinfo=UTC)  # not readable_date's order
    assert items[0].contact_name == "Fritz" and items[0].direction == "outgoing"
    assert items[-1].number == "" and items[-1].contact_name == ""  # number="-2", presentation 2


# --- OPPO/ColorOS call log and <SMSRecord> ---------------------------------------------------------


def test_oppo_coloros_call_log_is_read_and_its_calls_match_the_same_calls_elsewhere(alice_api, alice_case):
    fmt, items, _entries = entries_of("oppo_callrecord_backup.xml")
    assert fmt == "oppo_calls_xml"
    assert [(e.direction, e.number, e.duration) for e in items] == [
        ("incoming", "13800138000", 35),
        ("missed", "17012345678", 0),
        ("outgoing", "17012345678", 61),
        ("incoming", "", 0),
    ]
    assert (
        items[0].at == datetime(2012, 10, 24, 11, 53, 43, tzinfo=SHANGHAI) and items[0].contact_name == "张三"
    )
    # The same call in an SMS Backup & Restore calls.xml has the same key: importing both creates it once.
    sbr = (
        b"<?xml version='1.0'?><calls count='1'><call number='13800138000' duration='35' "
        b"date='1351050823000' type='1' contact_name='\xe5\xbc\xa0\xe4\xb8\x89' /></calls>"
    )
    (same,) = list(iter_entries(io.BytesIO(sbr), SHANGHAI)[1])
    assert same.key == items[0].key
    first = post_import(alice_api, alice_case, real("oppo_callrecord_backup.xml"), "callrecord_backup.xml")
    assert first.status_code == 201, first.content
    assert first.json()["format"] == "oppo_calls_xml" and first.json()["created"] >= 1
    again = post_import(alice_api, alice_case, sbr, "calls.xml", numbers="13800138000")
    assert again.json()["created"] == 0 and again.json()["duplicates"] == 1


def test_smsrecord_backup_is_read_in_the_phones_local_time(alice_api, alice_case):
    fmt, items, entries = entries_of("smsrecord.xml")
    assert fmt == "smsrecord_xml" and entries.date_order is None  # year first: nothing to choose
    assert items[0].at == datetime(2012, 10, 24, 11, 53, 43, tzinfo=SHANGHAI)
    assert [e.direction for e in items] == ["received", "sent", "received"]
    assert items[0].body == "您的账单已逾期，请尽快还款" and items[0].number == "10690000123"
    response = post_import(alice_api, alice_case, real("smsrecord.xml"), "sms.xml", numbers="10690000123")
    assert response.status_code == 201, response.content
    assert Incident.objects.get(kind="sms").occurred_at == datetime(2012, 10, 24, 11, 53, 43, tzinfo=SHANGHAI)


# --- iMazing: app calls, date orders, header-less files, durations --------------------------------


def test_imazing_app_calls_never_get_a_number_made_of_uuid_digits():
    with translation.override("en"):  # the description is checked in English
        _fmt, signal, _e = entries_of("imazing_signal.csv")
    assert [e.number for e in signal] == [
        "AB123456-7890-ABCD-EF12-34567890ABCD",
        "CD789012-3456-BCDE-FA23-4567890BCDEF",
    ]
    assert all(e.kind == "call" and e.incident_kind == "call" and e.service == "Signal Audio" for e in signal)
    assert signal[0].body == "Call via Signal Audio" and signal[0].contact_name == "Emma Davis"
    _fmt, teams, _e = entries_of("imazing_teams.csv")
    assert [e.number for e in teams] == ["Daily Standup", "Project Review", "Team Sync"]
    assert teams[1].duration == 45 * 60 + 30
    _fmt, basic, _e = entries_of("imazing_basic.csv")
    assert basic[0].service == "" and basic[0].number == "+1234567890"  # "Phone: +1234567890" is the phone
    assert basic[2].service == "WhatsApp Video" and basic[2].number == "+1122334455"  # a real number stays


def test_imazing_app_calls_are_imported_as_calls_naming_the_app(alice_api, alice_case):
    response = post_import(
        alice_api,
        alice_case,
        real("imazing_signal.csv"),
        "calls.csv",
        kinds="incoming,outgoing",
        numbers="AB123456-7890-ABCD-EF12-34567890ABCD",
    )
    assert response.status_code == 201, response.content
    call = Incident.objects.get(kind="call")
    assert call.counterpart_number == "AB123456-7890-ABCD-EF12-34567890ABCD"
    assert "Signal Audio" in call.description and call.counterpart_name == "Emma Davis"


def test_us_dates_are_read_month_first_from_the_whole_file():
    _fmt, items, entries = entries_of("imazing_us_dates.csv")
    assert entries.date_order == {"order": "mdy", "ambiguous": False, "sample": "01/15/2026 09:30:00"}
    assert items[0].at == datetime(2026, 1, 15, 9, 30, tzinfo=SHANGHAI)
    assert items[2].at == datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)  # 03/01 read by the file's order
    assert items[3].service == "FaceTime"


def test_day_first_dates_are_read_day_first():
    data = (
        b"Call type,Date,Duration,Number,Contact,Location,Service\n"
        b"Incoming,03/01/2026 08:00:00,0:45,+447700900123,,UK,Phone\n"
        b"Incoming,25/01/2026 21:15:00,1:05,+447700900123,,UK,Phone\n"
    )
    _fmt, entries = iter_entries(io.BytesIO(data), SHANGHAI)
    items = list(entries)
    assert entries.date_order["order"] == "dmy" and not entries.date_order["ambiguous"]
    assert items[0].at == datetime(2026, 1, 3, 8, 0, tzinfo=SHANGHAI) and items[0].duration == 45


def test_a_file_with_two_date_orders_is_refused_and_nothing_is_imported(alice_api, alice_case, english):
    data = (
        b"Call type,Date,Duration,Number,Contact,Location,Service\n"
        b"Incoming,13/01/2026 08:00:00,0:45,+447700900123,,UK,Phone\n"
        b"Incoming,01/14/2026 21:15:00,1:05,+447700900123,,UK,Phone\n"
    )
    with translation.override("en"), pytest.raises(PhoneLogError, match="two orders"):
        iter_entries(io.BytesIO(data), SHANGHAI)
    response = post_import(alice_api, alice_case, data, "calls.csv")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "13/01/2026 08:00:00" in message and "01/14/2026 21:15:00" in message
    assert Incident.objects.count() == 0 and EvidenceFile.objects.count() == 0


def test_year_first_and_day_month_dates_may_share_a_file():
    data = (
        b"Call type,Date,Duration,Number\n"
        b"Incoming,2026-01-13 08:00:00,00:00:45,+447700900123\n"
        b"Incoming,01/14/2026 9:15:00 PM,1:05,+447700900123\n"
    )
    _fmt, entries = iter_entries(io.BytesIO(data), SHANGHAI)
    items = list(entries)
    assert items[1].at == datetime(2026, 1, 14, 21, 15, tzinfo=SHANGHAI)  # 12-hour clock too


def test_header_less_imazing_2_files_with_two_digit_years_are_read():
    fmt, items, entries = entries_of("imazing2_headerless.csv")
    assert fmt == "imazing_csv"
    assert entries.date_order == {"order": "mdy", "ambiguous": True, "sample": "02/06/17 09:45"}
    assert items[0].at == datetime(2017, 2, 6, 9, 45, tzinfo=SHANGHAI)  # the default: month first
    assert [e.duration for e in items] == [45, 12 * 60 + 7, 0, 3600 + 2 * 60 + 33]  # m:ss and h:mm:ss
    assert items[0].contact_name == "Mom" and items[0].number == "+8613800138000"
    _fmt, day_first, _e = entries_of("imazing2_headerless.csv", date_order="dmy")
    assert day_first[0].at == datetime(2017, 6, 2, 9, 45, tzinfo=SHANGHAI)  # the person's choice


def test_the_preview_offers_the_date_order_of_an_ambiguous_file_and_the_run_uses_it(
    client, alice, alice_case
):
    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/import/",
        {"file": SimpleUploadedFile("Call History.csv", real("imazing2_headerless.csv"))},
    )
    phone_import = PhoneImport.objects.get()
    assert response["Location"] == f"/imports/{phone_import.pk}/", response.content
    assert phone_import.summary["date_order"]["ambiguous"]
    page = client.get(f"/imports/{phone_import.pk}/")
    field = page.context["form"]["date_order"]
    assert field.value() == "mdy"  # detected default: iMazing is US software
    html = page.content.decode()
    assert 'name="date_order"' in html and "02/06/17 09:45" in html
    done = client.post(
        f"/imports/{phone_import.pk}/",
        {
            "numbers": ["+8613800138000", "+8617012345678"],
            "kinds": ["incoming", "missed", "outgoing"],
            "date_order": "dmy",
        },
    )
    assert done.status_code == 302
    first = Incident.objects.filter(kind="call").order_by("occurred_at").first()
    assert first.occurred_at == datetime(2017, 6, 2, 9, 45, tzinfo=SHANGHAI)


def test_the_preview_shows_no_choice_when_the_file_settles_its_order(client, alice, alice_case):
    client.force_login(alice)
    client.post(
        f"/cases/{alice_case.pk}/import/",
        {"file": SimpleUploadedFile("calls.csv", real("imazing_us_dates.csv"))},
    )
    page = client.get(f"/imports/{PhoneImport.objects.get().pk}/")
    assert "date_order" not in page.context["form"].fields


def test_the_api_takes_the_date_order_and_refuses_an_unknown_one(alice_api, alice_case, english):
    response = post_import(
        alice_api,
        alice_case,
        real("imazing2_headerless.csv"),
        "calls.csv",
        numbers="+8613800138000",
        date_order="dmy",
    )
    assert response.status_code == 201, response.content
    first = Incident.objects.filter(kind="call").order_by("occurred_at").first()
    assert first.occurred_at == datetime(2017, 6, 2, 9, 45, tzinfo=SHANGHAI)
    bad = post_import(alice_api, alice_case, real("imazing2_headerless.csv"), "calls2.csv", date_order="ymd")
    assert bad.status_code == 400 and "dmy or mdy" in bad.json()["error"]["message"]


def test_settling_the_date_order_ignores_impossible_dates():
    assert settle_date_order(["13/14/2020 10:00", "01/02/2020 10:00"], default="mdy")["ambiguous"]
    assert settle_date_order(["2020-01-02 10:00:00"], default="mdy") is None


@pytest.mark.parametrize(
    "name,data,words",
    [
        (
            "contacts.xml",
            b"<?xml version='1.0'?><contacts><c/></contacts>",
            ["<contacts>", "<CallLog>", "<SMSRecord>"],
        ),
        ("calls.csv", b"Name,When,Length\nx,2026-01-01,3\n", ["Call type", "Name, When, Length"]),
        ("notes.txt", b"just some notes", ["SMS Backup", "OPPO", "iMazing"]),
    ],
)
def test_what_cannot_be_read_is_refused_saying_what_was_expected(
    alice_api, alice_case, english, name, data, words
):
    response = post_import(alice_api, alice_case, data, name)
    assert response.status_code in (400, 415)
    message = response.json()["error"]["message"]
    assert all(word in message for word in words), message
    assert Incident.objects.count() == 0


# --- recording names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,when,number,extra",
    [
        # BCR writes 0 to 9 digits of the second's fraction (OutputFilenameGenerator's appendFraction).
        ("20240930_120000+0200_out_+390123456789.m4a", "2024-09-30T12:00:00+02:00", "+390123456789", {}),
        (
            "20240930_120000.5+0200_out_+390123456789_Name.m4a",
            "2024-09-30T12:00:00.5+02:00",
            "+390123456789",
            {"name": "Name"},
        ),
        (
            "20220522_122802.881926-0400_+12345678900.flac",
            "2022-05-22T12:28:02.881926-04:00",
            "+12345678900",
            {},
        ),
        (
            "20240930_120000.123456789+0530_in_sim2_+919876543210.oga",
            "2024-09-30T12:00:00.123456+05:30",
            "+919876543210",
            {},
        ),
        (
            "20220614_113922.459+0200_out_800003322__PosteItaliane_.m4a",
            "2022-06-14T11:39:22.459+02:00",
            "800003322",
            {},
        ),
        (
            "20260531_120955.655+0530_out_+917633998101.ogg",
            "2026-05-31T12:09:55.655+05:30",
            "+917633998101",
            {},
        ),
        # Hidden caller: BCR leaves the number empty; the time is still read.
        ("20240930_120000.5+0200_in_.ogg", "2024-09-30T12:00:00.5+02:00", None, {"pattern": "bcr"}),
        # GrapheneOS / crDroid dialer.
        (
            "CallRecord_20230619-121746_+12192826655.m4a",
            "2023-06-19T12:17:46+08:00",
            "+12192826655",
            {"pattern": "grapheneos"},
        ),
        # True Phone, without and with a contact.
        ("5433 @ 2026-02-28_122439_out.amr", "2026-02-28T12:24:39+08:00", "5433", {"pattern": "truephone"}),
        (
            "Name (5433 Label) 2026-02-28_122509_out.amr",
            "2026-02-28T12:25:09+08:00",
            "5433",
            {"name": "Name"},
        ),
        (
            "Operator (5433 Мобильный) 2026-02-28_122509_out.amr",
            "2026-02-28T12:25:09+08:00",
            "5433",
            {"name": "Operator"},
        ),
        # LG: direction digit, d, time, p, number or null; hour 24 is the next day's midnight hour.
        ("0d20141212160318p+36305566778.mp4", "2014-12-12T16:03:18+08:00", "+36305566778", {"pattern": "lg"}),
        ("1d20151209155457pnull.3gp", "2015-12-09T15:54:57+08:00", None, {"pattern": "lg"}),
        ("0d20141126241240pnull.mp4", "2014-11-27T00:12:40+08:00", None, {}),
        # Number, direction and epoch milliseconds (UTC).
        (
            "+8613800138000_in_1710484222000.m4a",
            "2024-03-15T06:30:22+00:00",
            "+8613800138000",
            {"pattern": "epoch"},
        ),
        ("1710484222000_out_13800138000.amr", "2024-03-15T06:30:22+00:00", "13800138000", {}),
        # Short service and emergency numbers in Samsung and MIUI names.
        ("Call recording 110_240315_143022.m4a", "2024-03-15T14:30:22+08:00", "110", {"pattern": "samsung"}),
        ("Call recording 95188_240315_143022.m4a", "2024-03-15T14:30:22+08:00", "95188", {}),
        (
            "Вызов@112(Экстренный номер)_20220428142049.mp3",
            "2022-04-28T14:20:49+08:00",
            "112",
            {"label": "Экстренный номер"},
        ),
        ("Вызов@0321(0321)_20231113112139.mp3", "2023-11-13T11:21:39+08:00", "0321", {"pattern": "miui"}),
        (
            "Вызов@007846201-89(0078462018955)_20230215113029.mp3",
            "2023-02-15T11:30:29+08:00",
            "+78462018955",
            {},
        ),
        # Honor MagicOS Phone app (Sounds/CallRecord): the Huawei pattern.
        (
            "+8613800138000_20260719101530.m4a",
            "2026-07-19T10:15:30+08:00",
            "+8613800138000",
            {"pattern": "huawei"},
        ),
        (
            "李四@+8613800138000_20260719101530.m4a",
            "2026-07-19T10:15:30+08:00",
            "+8613800138000",
            {"name": "李四"},
        ),
        # LineageOS with another codec.
        (
            "+48123456789_240506_225406577.amr",
            "2024-05-06T22:54:06+08:00",
            "+48123456789",
            {"pattern": "lineageos"},
        ),
    ],
)
def test_recording_name_families(name, when, number, extra):
    parsed = parse_file_name(name, SHANGHAI)
    assert datetime.fromisoformat(parsed["time"]) == datetime.fromisoformat(when), parsed
    assert parsed.get("number") == number
    for key, value in extra.items():
        assert parsed[key] == value


@pytest.mark.parametrize(
    "name",
    [
        "New Recording 3.m4a",  # an iPhone Voice Memos / Notes export: no time in the name
        "20240930_120000.5+0200_out_+39012.m4a.part",
        "0d20141332160318p+36305566778.mp4",  # month 13
        "1710484222000_+8613800138000.m4a",  # epoch milliseconds without a direction
        "CallRecord_20991301-121746_+12192826655.m4a",
    ],
)
def test_names_that_say_nothing_reliable_give_nothing(name):
    assert parse_file_name(name, SHANGHAI) == {}


# --- FLAC ------------------------------------------------------------------------------------------


def flac_bytes(seconds: float = 3.0, rate: int = 8000) -> bytes:
    """A FLAC header with its STREAMINFO block (what mutagen reads a duration from)."""
    packed = (rate << 44) | (0 << 41) | (15 << 36) | int(seconds * rate)  # mono, 16 bits
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + b"\x80" + len(info).to_bytes(3, "big") + info + b"\xff\xf8" + bytes(30)


def test_flac_is_accepted_and_its_duration_read():
    data = flac_bytes(4.5)
    assert sniff(data[:64]).content_type == "audio/flac"
    assert audio_metadata(io.BytesIO(data), "flac") == {"duration_seconds": 4.5, "codec": "FLAC"}


def test_a_bcr_flac_recording_is_filed_under_its_call(alice_api, alice_case, alice_incident):
    # alice_incident: a call at 2024-03-15 23:05 Shanghai lasting 120 s, from 17012345678.
    name = "20240315_150530.881926+0000_in_17012345678.flac"
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile(name, flac_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["incident"] == alice_incident.pk
    assert EvidenceFile.objects.get(incident=alice_incident).content_type == "audio/flac"


def test_a_recording_whose_name_cannot_be_read_is_filed_with_time_unknown(alice_api, alice_case):
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("New Recording 3.flac", flac_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Incident.objects.get(pk=response.json()["incident"]).occurred_at is None  # never "now"
