"""The violation finder: boundaries in the debtor's time zone, counts in windows, the US pack, data-only
rule packs, and where findings show."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.services import profile_for, profile_update
from evidence.models import Incident
from evidence.rules import Record, RulePackError, evaluate, get_pack, parse_pack
from evidence.services import case_create, case_update, incident_create, incident_update

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def call(at, *, answered=True, kind="call", number="17012345678", **extra):
    return {"kind": kind, "occurred_at": at, "answered": answered, "counterpart_number": number, **extra}


def log(case, *items):
    return [incident_create(case=case, **item) for item in items]


def rules_of(incident):
    incident.refresh_from_db()
    return [v["rule"] for v in incident.violations]


# --- 1. quiet hours --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "clock,flagged",
    [
        ((21, 59, 59), False),
        ((22, 0, 0), True),
        ((7, 59, 59), True),
        ((8, 0, 0), False),
        ((3, 0, 0), True),
        ((12, 0, 0), False),
    ],
)
def test_quiet_hours_boundaries_in_the_debtors_time_zone(alice_case, clock, flagged):
    (incident,) = log(alice_case, call(datetime(2026, 3, 15, *clock, tzinfo=SHANGHAI)))
    assert ("CN-TIME-1" in rules_of(incident)) is flagged


def test_an_incident_stored_at_1430_utc_is_2230_in_shanghai_and_flagged(alice_case):
    (incident,) = log(alice_case, call(datetime(2026, 3, 15, 14, 30, tzinfo=UTC)))
    assert "CN-TIME-1" in rules_of(incident)
    shown = [v for v in _api_violations(incident, "zh-hans") if v["rule"] == "CN-TIME-1"][0]
    assert "2026-03-15 22:30:00" in shown["explanation"]


def test_quiet_hours_follow_the_profile_time_zone(alice, alice_case):
    profile_update(profile=profile_for(alice), time_zone="Europe/London")
    # 22:30 in Shanghai is 14:30 in London (no DST in March 1st): not at night for a debtor in London.
    (incident,) = log(alice_case, call(datetime(2026, 3, 1, 22, 30, tzinfo=SHANGHAI)))
    assert "CN-TIME-1" not in rules_of(incident)


# --- 2. connected calls a day ----------------------------------------------------------------------


def test_exactly_three_connected_calls_are_fine_and_the_fourth_is_flagged(alice_case):
    day = datetime(2026, 3, 15, 9, tzinfo=SHANGHAI)
    first = log(alice_case, *[call(day + timedelta(hours=h)) for h in range(3)])
    # Unanswered calls in between do not count towards the connected limit.
    log(alice_case, call(day + timedelta(hours=3, minutes=30), answered=False))
    assert all("CN-FREQ-1" not in rules_of(i) for i in first)
    (fourth,) = log(alice_case, call(day + timedelta(hours=4)))
    assert "CN-FREQ-1" in rules_of(fourth)
    zh = [v for v in _api_violations(fourth, "zh-hans") if v["rule"] == "CN-FREQ-1"][0]
    en = [v for v in _api_violations(fourth, "en") if v["rule"] == "CN-FREQ-1"][0]
    assert zh["explanation"] == "当日第4次接通的催收电话（上限3次）"
    assert en["explanation"] == "4th connected collection call this day (limit 3)"
    assert "GB/T 45251-2025" in zh["citation"] and zh["title"] != en["title"]


def test_the_day_is_the_debtors_local_day(alice_case):
    # 01:00-03:00 Shanghai on the 16th are still the 15th in UTC: they belong to the 16th locally.
    log(alice_case, *[call(datetime(2026, 3, 15, 10 + h, tzinfo=SHANGHAI)) for h in range(3)])
    (next_day,) = log(alice_case, call(datetime(2026, 3, 16, 1, tzinfo=SHANGHAI)))
    assert "CN-FREQ-1" not in rules_of(next_day)


def test_more_than_six_unanswered_attempts_a_day(alice_case):
    day = datetime(2026, 3, 15, 9, tzinfo=SHANGHAI)
    incidents = log(alice_case, *[call(day + timedelta(minutes=20 * i), answered=False) for i in range(7)])
    assert ["CN-FREQ-2" in rules_of(i) for i in incidents] == [False] * 6 + [True]


def test_amending_an_incident_re_evaluates_the_case(alice_case):
    day = datetime(2026, 3, 15, 9, tzinfo=SHANGHAI)
    incidents = log(alice_case, *[call(day + timedelta(hours=h)) for h in range(4)])
    assert "CN-FREQ-1" in rules_of(incidents[3])
    incident_update(incident=incidents[0], answered=False)
    assert "CN-FREQ-1" not in rules_of(incidents[3])
    alice_case.refresh_from_db()
    assert "CN-FREQ-1" not in alice_case.violation_summary


# --- 3. the US pack --------------------------------------------------------------------------------


@pytest.fixture
def us_case(alice):
    profile_update(profile=profile_for(alice), time_zone="America/New_York")
    return case_create(owner=alice, title="Collector", creditor="bank_card", rule_pack="us")


def test_us_eight_calls_in_seven_days_flags_the_eighth(us_case):
    start = datetime(2024, 6, 3, 10, tzinfo=NEW_YORK)
    # Unanswered, one a day, so the after-conversation rule stays silent.
    calls = log(us_case, *[call(start + timedelta(days=d * 6 / 7), answered=False) for d in range(8)])
    assert ["US-FREQ-1" in rules_of(c) for c in calls] == [False] * 7 + [True]
    (later,) = log(us_case, call(start + timedelta(days=20), answered=False))
    assert "US-FREQ-1" not in rules_of(later)


def test_us_call_on_day_seven_after_a_conversation_is_flagged_day_eight_is_not(us_case):
    conversation = datetime(2024, 6, 3, 10, tzinfo=NEW_YORK)
    log(us_case, call(conversation, answered=True))
    day7, day8 = log(
        us_case,
        call(conversation + timedelta(days=6, hours=5), answered=False),
        call(conversation + timedelta(days=7, hours=1), answered=False),
    )
    assert "US-FREQ-2" in rules_of(day7)
    assert "US-FREQ-2" not in rules_of(day8)
    en = [v for v in _api_violations(day7, "en") if v["rule"] == "US-FREQ-2"][0]
    assert "day 7" in en["explanation"] and "12 CFR 1006.14(b)(2)" in en["citation"]


def test_us_days_follow_new_york_across_the_dst_change(us_case):
    # DST began on 2024-03-10 at 02:00 in New York. A conversation on 2024-03-04 at 23:30 EST;
    # day 7 is 2024-03-10, day 8 is 2024-03-11. 2024-03-11 00:30 EDT is 04:30 UTC, and a naive
    # UTC day count would call it day 8 too, but 2024-03-10 23:30 EDT is 2024-03-11 03:30 UTC,
    # which a UTC reading would put on day 8: the local reading must keep it on day 7.
    log(us_case, call(datetime(2024, 3, 4, 23, 30, tzinfo=NEW_YORK), answered=True))
    day7, day8 = log(
        us_case,
        call(datetime(2024, 3, 10, 23, 30, tzinfo=NEW_YORK), answered=False),
        call(datetime(2024, 3, 11, 0, 30, tzinfo=NEW_YORK), answered=False),
    )
    assert "US-FREQ-2" in rules_of(day7)
    assert "US-FREQ-2" not in rules_of(day8)
    # Quiet hours also follow the local offset after the change: 20:59 EDT is fine, 21:00:01 is not.
    fine, late = log(
        us_case,
        call(datetime(2024, 3, 20, 20, 59, tzinfo=NEW_YORK), answered=False),
        call(datetime(2024, 3, 20, 21, 0, 1, tzinfo=NEW_YORK), answered=False),
    )
    assert "US-TIME-1" not in rules_of(fine) and "US-TIME-1" in rules_of(late)


def test_us_third_party_and_misrepresentation(us_case):
    contact, fake = log(
        us_case,
        {
            "kind": "third_party",
            "occurred_at": datetime(2024, 6, 3, 12, tzinfo=NEW_YORK),
            "contacted": ["employer"],
        },
        call(datetime(2024, 6, 20, 12, tzinfo=NEW_YORK), flags=["impersonation"]),
    )
    assert "US-3P-1" in rules_of(contact) and "US-MISREP-1" in rules_of(fake)


# --- 4. property: window counts equal a brute-force count -----------------------------------------


# One binding source in force for any date and lender: the engine tests are about predicates.
TEST_SOURCES = {
    "T": {
        "type": "law",
        "mark": "V",
        "in_force_from": "1900-01-01",
        "lenders": ["all"],
        "zh-hans": "测试法第一条",
        "en": "Test Act, Article 1",
        "verbatim": "第一条 测试。",
    }
}


def _record(i, minutes, answered):
    return Record(
        i,
        "call",
        datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        answered,
        None,
        (),
        (),
        None,
        "1",
    )


@hsettings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60 * 24 * 40), st.booleans()), max_size=80),
    st.integers(1, 9),
    st.integers(0, 6),
    st.sampled_from(["all", "connected", "unanswered"]),
    st.sampled_from(["Asia/Shanghai", "America/New_York", "UTC"]),
)
def test_window_counts_equal_a_brute_force_count(items, days, limit, mode, zone):
    tz = ZoneInfo(zone)
    records = [_record(i, m, a) for i, (m, a) in enumerate(sorted(items))]
    pack = parse_pack(
        {
            "id": "t",
            "name": {"zh-hans": "t", "en": "t"},
            "sources": TEST_SOURCES,
            "rules": [
                {
                    "id": "ROLL",
                    "title": {"zh-hans": "t", "en": "t"},
                    "explanation": {"zh-hans": "t", "en": "t"},
                    "sources": ["T"],
                    "predicate": {
                        "type": "count_in_window",
                        "window": "rolling_days",
                        "days": days,
                        "count": mode,
                        "limit": limit,
                    },
                },
                {
                    "id": "DAY",
                    "title": {"zh-hans": "t", "en": "t"},
                    "explanation": {"zh-hans": "t", "en": "t"},
                    "sources": ["T"],
                    "predicate": {"type": "count_in_window", "window": "day", "count": mode, "limit": limit},
                },
            ],
        },
        "test",
    )
    found = evaluate(records, pack, tz)

    def counted(r):
        return {"all": True, "connected": r.answered, "unanswered": not r.answered}[mode]

    for position, record in enumerate(records):
        rules = {f["rule"]: f["params"] for f in found.get(record.id, [])}
        if not counted(record):
            assert rules == {}
            continue
        local_day = record.at.astimezone(tz).date()
        earlier = [r for r in records[: position + 1] if counted(r)]
        rolling = sum(1 for r in earlier if 0 <= (local_day - r.at.astimezone(tz).date()).days < days)
        same_day = sum(1 for r in earlier if r.at.astimezone(tz).date() == local_day)
        assert ("ROLL" in rules) == (rolling > limit)
        assert ("DAY" in rules) == (same_day > limit)
        if "ROLL" in rules:
            assert rules["ROLL"]["n"] == rolling
        if "DAY" in rules:
            assert rules["DAY"]["n"] == same_day


# --- 5. packs are data ----------------------------------------------------------------------------

CUSTOM_PACK = textwrap.dedent("""
    id = "hk"
    name = { zh-hans = "香港", en = "Hong Kong" }
    [sources.HK-MLO]
    type = "law"
    mark = "S"
    in_force_from = "1980-12-12"
    lenders = ["all"]
    zh-hans = "《放債人條例》（示例）"
    en = "Money Lenders Ordinance (example)"
    [[rules]]
    id = "HK-CALL-1"
    title = { zh-hans = "早上9点前来电", en = "Call before 9 a.m." }
    explanation = { zh-hans = "{local_time} 来电", en = "Call at {local_time}" }
    predicate = { type = "quiet_hours", from = "00:00", until = "09:00", kinds = ["call"] }
    sources = ["HK-MLO"]
""")


def test_a_custom_pack_file_is_picked_up_without_code_changes(alice, tmp_path, settings, client):
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "hk.toml").write_text(CUSTOM_PACK, encoding="utf-8")
    settings.RULE_PACK_DIRS = [*settings.RULE_PACK_DIRS, folder]
    case = case_create(owner=alice, title="HK", creditor="other", rule_pack="hk")
    (early,) = log(case, call(datetime(2026, 3, 15, 8, 30, tzinfo=SHANGHAI)))
    assert rules_of(early) == ["HK-CALL-1"]
    client.force_login(alice)
    assert "HK-CALL-1" in client.get(f"/cases/{case.pk}/").content.decode()
    # Switching the case back to the China pack re-evaluates it.
    case_update(case=case, rule_pack="cn")
    assert rules_of(early) == []


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda p: p["sources"]["T"].update(mark="R"), "unverified"),
        (lambda p: p["sources"]["T"].update(mark="S", en="Some Act, Article 12"), "without article numbers"),
        (
            lambda p: p["sources"]["T"].update(mark="S", **{"zh-hans": "某办法第十二条"}),
            "without article numbers",
        ),
        (lambda p: p["rules"][0]["predicate"].update(type="moon_phase"), "unknown predicate type"),
        (lambda p: p["rules"][0]["predicate"].update(kinds=["fax"]), "kinds"),
        (lambda p: p["rules"][0].pop("title"), "title"),
        # Pack lint: every source says what it is, when it is in force, whom it governs, how sure we are.
        (lambda p: p["sources"]["T"].pop("type"), "type"),
        (lambda p: p["sources"]["T"].update(type="opinion"), "type"),
        (lambda p: p["sources"]["T"].pop("in_force_from"), "in_force_from"),
        (lambda p: p["sources"]["T"].update(in_force_from="2026-13-01"), "not a date"),
        (lambda p: p["sources"]["T"].update(in_force_until="1899-01-01"), "before in_force_from"),
        (lambda p: p["sources"]["T"].pop("lenders"), "lenders"),
        (lambda p: p["sources"]["T"].update(lenders=["pawnshop"]), "lenders"),
        (lambda p: p["sources"]["T"].pop("mark"), "mark"),
        (lambda p: p["sources"]["T"].pop("verbatim"), "verbatim"),
        (lambda p: p["rules"][0].update(sources=["NOPE"]), "unknown sources"),
        (
            lambda p: p["rules"][0].update(citations=[{"confidence": "V", "zh-hans": "x", "en": "x"}]),
            "sources",
        ),
    ],
)
def test_bad_pack_files_are_refused_with_a_reason(change, message):
    pack = {
        "id": "x",
        "name": {"zh-hans": "x", "en": "x"},
        "sources": {"T": dict(TEST_SOURCES["T"])},
        "rules": [
            {
                "id": "X-1",
                "title": {"zh-hans": "t", "en": "t"},
                "explanation": {"zh-hans": "t", "en": "t"},
                "sources": ["T"],
                "predicate": {"type": "quiet_hours", "from": "22:00", "until": "08:00"},
            }
        ],
    }
    change(pack)
    with pytest.raises(RulePackError, match=message):
        parse_pack(pack, "x.toml")


def test_bundled_packs_cite_article_numbers_only_for_verbatim_sources():
    for pack_id in ("cn", "us"):
        pack = get_pack(pack_id)
        assert len(pack.rules) >= 6
        for rule in pack.rules:
            assert rule.sources and rule.title["zh-hans"] and rule.title["en"]
            for source in rule.sources:
                assert source.type and source.in_force_from and source.lenders and source.mark in ("V", "S")
                assert source.mark == "S" or source.verbatim


def test_china_pack_covers_the_research(alice_case):
    items = [
        {
            "kind": "third_party",
            "occurred_at": datetime(2026, 3, 10, 12, tzinfo=SHANGHAI),
            "contacted": ["family"],
        },
        call(datetime(2026, 3, 10, 13, tzinfo=SHANGHAI), flags=["threat", "insult"]),
        call(datetime(2026, 3, 10, 14, tzinfo=SHANGHAI), flags=["impersonation", "fake_legal_document"]),
        call(datetime(2026, 3, 10, 15, tzinfo=SHANGHAI), flags=["disclosure"]),
        {
            "kind": "visit",
            "occurred_at": datetime(2026, 3, 10, 22, 30, tzinfo=SHANGHAI),
            "visitors": 1,
            "flags": ["entered_home", "posted_notice", "violence"],
        },
    ]
    incidents = log(alice_case, *items)
    found = [set(rules_of(i)) for i in incidents]
    assert "CN-3P-1" in found[0]
    assert "CN-ABUSE-1" in found[1]
    # A caller shows no document: posing as an official, not forgery (CN-IMP-2 needs a document
    # shown or sent, tests/complaints/test_dossier_record.py).
    assert "CN-IMP-1" in found[2] and "CN-IMP-2" not in found[2]
    assert "CN-DISC-1" in found[3]
    assert {"CN-VISIT-1", "CN-TIME-1", "CN-VIOL-1", "CN-PRIV-1"} <= found[4]
    visit = [v for v in _api_violations(incidents[4], "zh-hans") if v["rule"] == "CN-VISIT-1"][0]
    assert "仅1人上门" in visit["explanation"] and "夜间" in visit["explanation"]


# --- 6. where findings show -----------------------------------------------------------------------


def _api_violations(incident, language):
    from rest_framework.test import APIClient

    from accounts.services import token_create

    owner = incident.case.owner
    profile_update(profile=profile_for(owner), language=language)
    _token, secret = token_create(user=owner, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = client.get(f"/api/v1/incidents/{incident.pk}/").json()
    for violation in body["violations"]:
        assert {"rule", "title", "citation"} <= set(violation)
    return body["violations"]


def test_violations_show_on_the_timeline_in_both_languages_with_the_pack_citation(client, alice, alice_case):
    log(
        alice_case,
        call(datetime(2026, 3, 15, 23, 10, tzinfo=SHANGHAI)),
        call(datetime(2026, 3, 15, 12, 0, tzinfo=SHANGHAI)),
    )
    client.force_login(alice)
    page = client.get(f"/cases/{alice_case.pk}/").content.decode()
    pack = get_pack("cn")
    rule = pack.by_id["CN-TIME-1"]
    # The night rule rests on a recommended standard and self-regulation, not on a law: the page
    # says "does not meet the requirements of", never "suspected breach of".
    assert pack.wording_standards["zh-hans"] in page and "涉嫌违反" not in page
    assert rule.title["zh-hans"] in page and rule.sources[0].text["zh-hans"] in page
    only = client.get(f"/cases/{alice_case.pk}/?violations=on").context["page"]
    assert only.paginator.count == 1
    by_rule = client.get(f"/cases/{alice_case.pk}/?rule=CN-TIME-1").context["page"]
    assert by_rule.paginator.count == 1
    client.post("/language/", {"language": "en", "next": "/"})
    page = client.get(f"/cases/{alice_case.pk}/").content.decode()
    assert pack.wording_standards["en"] in page and "Suspected breach of" not in page
    assert rule.title["en"] in page and rule.sources[0].text["en"] in page


def test_evaluate_rules_command_fills_in_findings_for_existing_incidents(alice_case):
    from django.core.management import call_command

    Incident.objects.create(
        case=alice_case, kind="call", occurred_at=datetime(2026, 3, 15, 23, tzinfo=SHANGHAI)
    )
    call_command("evaluate_rules", stdout=open("/dev/null", "w"))
    assert "CN-TIME-1" in rules_of(Incident.objects.get())
