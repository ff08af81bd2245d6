"""Fill an empty installation with what a real user of a release leaves behind, using that release's
own code: run by scripts/make-release-fixture.sh inside the release's checkout (the working
directory), with DATA_DIR pointing at the fixture's data folder.

Only interfaces every release keeps are used: the JSON API v1 contract (../shared/api-v1.md), the
`issue_token` command and Django's user model. Features a release does not have yet (notices and
complaints came with the second) are detected by their endpoint answering 404 and skipped.

Writes `meta.json` (users, passwords, tokens, what was created, each dossier's seal and digests) and
each issued dossier's PDF and bundle, exactly as downloaded, into the folder given as argv[1]."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
import sys
import time
import wave
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

OUT = Path(sys.argv[1]).resolve()
(OUT / "dossiers").mkdir(parents=True, exist_ok=True)


def wav_bytes(seconds: float = 2.0, freq: int = 440) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / 8000)))
            for i in range(int(8000 * seconds))
        )
        w.writeframes(frames)
    return buffer.getvalue()


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (360, 640), colour)
    draw = ImageDraw.Draw(image)
    draw.text((20, 40), "Pay today or we visit your family", fill=(0, 0, 0))
    draw.text((20, 80), "2026-11-20 23:41 +86 138 0013 8000", fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


CALLS_XML = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<!--File Created By SMS Backup & Restore v10.20.002 on 27/11/2026 21:14:02-->
<calls count="5">
  <call number="+8613800138000" duration="65" date="1763651400000" type="1" presentation="1" subscription_id="1" post_dial_digits="" subscription_component_name="com.android.phone/com.android.services.telephony.TelephonyConnectionService" readable_date="Nov 20, 2025 23:10:00" contact_name="(Unknown)" />
  <call number="+8613800138000" duration="0" date="1763652000000" type="3" presentation="1" subscription_id="1" post_dial_digits="" subscription_component_name="com.android.phone/com.android.services.telephony.TelephonyConnectionService" readable_date="Nov 20, 2025 23:20:00" contact_name="(Unknown)" />
  <call number="02161234567" duration="212" date="1763701200000" type="1" presentation="1" subscription_id="1" post_dial_digits="" subscription_component_name="com.android.phone/com.android.services.telephony.TelephonyConnectionService" readable_date="Nov 21, 2025 13:00:00" contact_name="(Unknown)" />
  <call number="+8613911112222" duration="31" date="1763740800000" type="1" presentation="1" subscription_id="1" post_dial_digits="" subscription_component_name="com.android.phone/com.android.services.telephony.TelephonyConnectionService" readable_date="Nov 22, 2025 00:00:00" contact_name="(Unknown)" />
  <call number="13700001111" duration="45" date="1763780400000" type="2" presentation="1" subscription_id="1" post_dial_digits="" subscription_component_name="com.android.phone/com.android.services.telephony.TelephonyConnectionService" readable_date="Nov 22, 2025 11:00:00" contact_name="Mum" />
</calls>
"""


class Api:
    def __init__(self, token: str):
        self.client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

    def post(self, path: str, data: dict, expect=(201,)) -> dict:
        response = self.client.post(path, data=json.dumps(data), content_type="application/json")
        assert response.status_code in expect, (path, response.status_code, response.content[:500])
        return response.json() if response.content else {}

    def upload(self, path: str, name: str, content: bytes, content_type: str, **fields) -> dict:
        response = self.client.post(
            path, data={"file": SimpleUploadedFile(name, content, content_type=content_type), **fields}
        )
        assert response.status_code == 201, (path, response.status_code, response.content[:500])
        return response.json()

    def get(self, path: str) -> tuple[int, bytes, object]:
        response = self.client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, body, response


def populate_user(username: str, password: str, variant: int) -> dict:
    user = get_user_model().objects.create_user(username=username, password=password)
    out = io.StringIO()
    call_command("issue_token", username, stdout=out)
    token = out.getvalue().strip().splitlines()[-1].strip()
    api = Api(token)
    made: dict = {"username": username, "password": password, "token": token, "user_id": user.pk}

    case = api.post("/api/v1/cases/", {"title": f"花呗催收 {username}", "creditor": "huabei"})
    other_case = api.post("/api/v1/cases/", {"title": f"白条 {username}", "creditor": "baitiao"})
    made["cases"] = [case["id"], other_case["id"]]
    incidents = {}
    base = f"2025-11-{18 + variant:02d}"
    specs = [
        (
            "call",
            f"{base}T23:41:00+08:00",
            {
                "duration_seconds": 95,
                "answered": True,
                "counterpart_number": "+86 138 0013 8000",
                "agency": "某某资产管理",
                "description": "深夜来电，称要去我单位",
                "flags": ["threat"],
            },
        ),
        (
            "sms",
            f"{base}T23:55:00+08:00",
            {
                "counterpart_number": "10690000123",
                "description": "今天不还就上门找你家人",
                "flags": ["threat"],
            },
        ),
        (
            "visit",
            f"{base}T19:30:00+08:00",
            {"visitors": 2, "description": "两人上门，在门口大声催讨", "flags": ["entered_home"]},
        ),
        (
            "third_party",
            f"{base}T10:15:00+08:00",
            {
                "contacted": ["family", "employer"],
                "counterpart_number": "021-6123-4567",
                "description": "打电话给我母亲和公司前台",
            },
        ),
        (
            "letter",
            f"{base}T09:00:00+08:00",
            {"description": "收到“律师函”，称将起诉", "flags": ["fake_legal_document"]},
        ),
        ("app_message", f"{base}T12:00:00+08:00", {"description": "微信消息辱骂", "flags": ["insult"]}),
        ("other", f"{base}T15:00:00+08:00", {"description": "在小区贴催收告示", "flags": ["posted_notice"]}),
    ]
    for kind, when, extra in specs:
        incident = api.post(
            "/api/v1/incidents/", {"case": case["id"], "kind": kind, "occurred_at": when, **extra}
        )
        incidents[kind] = incident["id"]
    api.post(
        "/api/v1/incidents/",
        {
            "case": other_case["id"],
            "kind": "call",
            "occurred_at": f"{base}T08:05:00+08:00",
            "answered": False,
        },
    )
    made["incidents"] = incidents

    evidence = []
    evidence.append(
        api.upload(
            f"/api/v1/incidents/{incidents['call']}/evidence/",
            "recording.wav",
            wav_bytes(2.0, 440 + variant),
            "audio/wav",
        )
    )
    evidence.append(
        api.upload(
            f"/api/v1/incidents/{incidents['sms']}/evidence/",
            "Screenshot_sms.png",
            png_bytes((250, 250, 240 - variant)),
            "image/png",
        )
    )
    evidence.append(
        api.upload(
            f"/api/v1/incidents/{incidents['visit']}/evidence/",
            "visit.wav",
            wav_bytes(3.0, 300 + variant),
            "audio/wav",
        )
    )
    # The one-tap endpoint, with a recording named by a phone recorder (time and number in the name).
    evidence.append(
        api.upload(
            "/api/v1/evidence/",
            f"13800138000_2025112{variant}143015.wav",
            wav_bytes(1.5, 520 + variant),
            "audio/wav",
            case=str(case["id"]),
        )
    )
    made["evidence"] = [{"id": e["id"], "sha256": e["sha256"], "size": e["size"]} for e in evidence]

    made["import"] = api.upload(
        "/api/v1/imports/", "calls.xml", CALLS_XML.encode(), "text/xml", case=str(case["id"])
    )

    # Second release on: a stop-contact notice, marked sent, and a complaint with a reply.
    made["features"] = []
    probe = api.client.post(
        "/api/v1/notices/", data=json.dumps({"case": case["id"]}), content_type="application/json"
    )
    if probe.status_code == 201:
        notice = probe.json()
        api.post(
            f"/api/v1/notices/{notice['id']}/sent",
            {"sent_at": f"{base}T20:00:00+08:00", "channel": "online_chat"},
            expect=(200,),
        )
        made["notice"] = notice["id"]
        made["features"].append("notices")
    dossiers = []
    first = build_dossier(api, {"case": case["id"], "addressee": "alipay", "language": "zh-hans"})
    dossiers.append(first)
    if "notices" in made["features"]:
        complaint = api.post(
            "/api/v1/complaints/",
            {
                "case": case["id"],
                "addressee": "alipay",
                "channel": "phone",
                "sent_at": f"2025-11-2{variant + 4}T10:00:00+08:00",
                "ticket_number": f"95188-00{variant}1",
                "dossier": first["id"],
            },
        )
        api.post(
            f"/api/v1/complaints/{complaint['id']}/replies/",
            {
                "received_at": f"2025-11-2{variant + 6}T16:00:00+08:00",
                "text": "已转催收机构核实",
                "outcome": "other",
            },
        )
        made["complaint"] = complaint["id"]
        made["features"].append("complaints")
        dossiers.append(
            build_dossier(
                api, {"case": case["id"], "addressee": "nfra", "language": "en", "follows": [complaint["id"]]}
            )
        )
    else:
        dossiers.append(build_dossier(api, {"case": case["id"], "addressee": "nfra", "language": "en"}))
    made["dossiers"] = dossiers
    return made


def build_dossier(api: Api, request: dict) -> dict:
    dossier = api.post("/api/v1/dossiers/", request, expect=(201, 202))
    for _ in range(600):
        status, body, _response = api.get(f"/api/v1/dossiers/{dossier['id']}/")
        dossier = json.loads(body)
        if dossier["status"] != "pending" and dossier["status"] != "running":
            break
        time.sleep(0.2)
    assert dossier["status"] == "ready", dossier
    status, pdf, _ = api.get(f"/api/v1/dossiers/{dossier['id']}/pdf")
    assert status == 200
    status, bundle, _ = api.get(f"/api/v1/dossiers/{dossier['id']}/bundle")
    assert status == 200
    name = f"dossier-{dossier['id']}"
    (OUT / "dossiers" / f"{name}.pdf").write_bytes(pdf)
    (OUT / "dossiers" / f"{name}.zip").write_bytes(bundle)
    assert hashlib.sha256(pdf).hexdigest() == dossier["pdf_sha256"]
    return {
        "id": dossier["id"],
        "seal": dossier["seal"],
        "pdf_sha256": dossier["pdf_sha256"],
        "request": request,
        "pdf": f"dossiers/{name}.pdf",
        "bundle": f"dossiers/{name}.zip",
        "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
    }


def main() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    users = [
        populate_user("alice", "alice-fixture-pass-2026", 0),
        populate_user("bob", "bob-fixture-pass-2026", 1),
    ]
    (OUT / "meta.json").write_text(json.dumps({"users": users}, ensure_ascii=False, indent=1) + "\n")
    print(
        json.dumps(
            {"users": [u["username"] for u in users], "dossiers": sum(len(u["dossiers"]) for u in users)}
        )
    )


main()
