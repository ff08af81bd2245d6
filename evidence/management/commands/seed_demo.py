"""Create a demo account with a realistic, fictional Huabei case so a newcomer sees a full timeline."""

from __future__ import annotations

import io
import math
import random
import struct
import wave
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.services import profile_for, profile_update
from evidence import services
from evidence.models import Creditor, IncidentKind, Source

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-evidence-2026"

# All names and numbers are invented; 170/171 numbers are virtual-operator ranges often seen in
# collection calls.
COLLECTOR_NUMBERS = ["17012345678", "17198765432", "02388886666"]
AGENCY = "某某信息咨询服务有限公司（虚构）"


def _tone_wav(seconds: float = 3.0, frequency: float = 440.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        frames = b"".join(
            struct.pack("<h", int(6000 * math.sin(2 * math.pi * frequency * i / 8000)))
            for i in range(int(8000 * seconds))
        )
        out.writeframes(frames)
    return buffer.getvalue()


def _screenshot_png(lines: list[str]) -> bytes:

    image = Image.new("RGB", (540, 960), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 540, 60], fill=(30, 120, 200))
    draw.text((20, 20), "Messages", fill="white")
    for index, line in enumerate(lines):
        top = 100 + index * 90
        draw.rounded_rectangle([20, top, 500, top + 70], radius=14, fill=(235, 235, 235))
        draw.text((36, top + 26), line, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class Command(BaseCommand):
    help = f"Create the demo account '{DEMO_USERNAME}' (password '{DEMO_PASSWORD}') with a fictional case."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="delete and recreate the demo account")

    def handle(self, *args, reset: bool, **options):
        User = get_user_model()
        existing = User.objects.filter(username=DEMO_USERNAME).first()
        if existing and not reset:
            self.stdout.write(
                f"The demo account exists. Log in as {DEMO_USERNAME} / {DEMO_PASSWORD} "
                "(use --reset to recreate it)."
            )
            return
        if existing:
            existing.delete()
        with transaction.atomic():
            self._seed(User)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo account ready: log in at http://127.0.0.1:8000/accounts/login/ as "
                f"{DEMO_USERNAME} / {DEMO_PASSWORD}"
            )
        )

    def _seed(self, User):
        rng = random.Random(20241115)
        user = User.objects.create_user(DEMO_USERNAME, password=DEMO_PASSWORD, email="demo@example.invalid")
        profile = profile_for(user)
        profile_update(
            profile=profile,
            display_name="张小明（演示）",
            phone="13800000000",
            id_number="110101199001011234",
        )
        case = services.case_create(
            owner=user,
            title="花呗逾期催收（演示）",
            creditor=Creditor.HUABEI,
            lender_name="重庆蚂蚁消费金融有限公司",
            account_hint="8842",
            collectors="\n".join([AGENCY] + COLLECTOR_NUMBERS),
            notes="演示数据：全部人物、号码与机构均为虚构。",
        )
        tz = profile.tz
        today = timezone.localtime(timezone.now(), tz).date()
        start = today - timedelta(days=14)  # the last day seeded is yesterday

        def at(day: int, hour: int, minute: int) -> datetime:
            return datetime.combine(start + timedelta(days=day), datetime.min.time(), tzinfo=tz) + timedelta(
                hours=hour, minutes=minute
            )

        for day in range(14):
            for _ in range(rng.randint(2, 7)):
                hour = rng.choice([8, 9, 10, 11, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 7])
                answered = rng.random() < 0.4
                services.incident_create(
                    case=case,
                    kind=IncidentKind.CALL,
                    occurred_at=at(day, hour, rng.randint(0, 59)),
                    source=Source.MANUAL,
                    counterpart_number=rng.choice(COLLECTOR_NUMBERS),
                    agency=AGENCY,
                    answered=answered,
                    duration_seconds=rng.randint(20, 300) if answered else 0,
                    contacted=["self"],
                    description="催收电话，要求今天还清全部欠款。" if answered else "",
                )
        night = services.incident_create(
            case=case,
            kind=IncidentKind.CALL,
            occurred_at=at(10, 23, 41),
            counterpart_number=COLLECTOR_NUMBERS[0],
            agency=AGENCY,
            answered=True,
            duration_seconds=3,
            contacted=["self"],
            flags=["threat", "impersonation"],
            description="深夜来电，自称“法院执行局”，说明天上门冻结全部财产。",
        )
        services.evidence_store(
            incident=night,
            upload=SimpleUploadedFile(
                f"通话录音@{COLLECTOR_NUMBERS[0]}({COLLECTOR_NUMBERS[0]})_"
                f"{timezone.localtime(night.occurred_at, tz):%Y%m%d%H%M%S}.wav",
                _tone_wav(),
            ),
        )
        sms = services.incident_create(
            case=case,
            kind=IncidentKind.SMS,
            occurred_at=at(11, 9, 5),
            counterpart_number="10690000123",
            agency=AGENCY,
            contacted=["self"],
            flags=["threat", "fake_legal_document"],
            description="短信称已“立案”，附所谓“律师函”链接，限24小时内还款。",
        )
        services.evidence_store(
            incident=sms,
            upload=SimpleUploadedFile(
                f"Screenshot_{timezone.localtime(sms.occurred_at, tz):%Y%m%d-%H%M%S}.png",
                _screenshot_png(["Final notice: case filed", "Pay within 24 hours", "or we visit your home"]),
            ),
        )
        services.incident_create(
            case=case,
            kind=IncidentKind.THIRD_PARTY,
            occurred_at=at(12, 14, 20),
            counterpart_number=COLLECTOR_NUMBERS[1],
            agency=AGENCY,
            contacted=["family", "employer"],
            flags=["disclosure"],
            description="催收员打电话给我母亲和公司人事，说我欠钱不还。",
        )
        services.incident_create(
            case=case,
            kind=IncidentKind.VISIT,
            occurred_at=at(13, 20, 30),
            duration_seconds=1500,
            visitors=1,
            agency=AGENCY,
            contacted=["self", "family"],
            flags=["posted_notice", "threat"],
            description="一人上门，未出示证件，在门上贴了“催收告知书”。",
        )
