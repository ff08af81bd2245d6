"""Dossier benchmark: cases of 100, 1,000 and 10,000 incidents with 100 phone screenshots
(1080x2400 PNG) and 20 recordings; seconds and pages for each dossier (manifest, PDF, signature),
and the time WeasyPrint takes to render an HTML timeline of the same incidents and screenshots.

Goals: 1,000 incidents with 100 screenshots in <= 10 s; 10,000 in <= 12x the 1,000 time; faster
than WeasyPrint on the same content. Figures only. BENCH_DOSSIER_SIZES=100,1000 runs fewer sizes.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
SIZES = [int(s) for s in os.environ.get("BENCH_DOSSIER_SIZES", "100,1000,10000").split(",")]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def screenshot(index: int) -> bytes:
    """A phone-sized screenshot with chat bubbles and text, so it compresses like a real one."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1080, 2400), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 1080, 180], fill=(30, 120, 200))
    draw.text((40, 80), f"Messages  #{index}", fill="white")
    rng = random.Random(index)
    y = 240
    while y < 2300:
        width = rng.randint(400, 900)
        left = 40 if rng.random() < 0.5 else 1040 - width
        draw.rounded_rectangle(
            [left, y, left + width, y + 150],
            radius=30,
            fill=(255, 255, 255) if left == 40 else (160, 230, 120),
        )
        draw.text(
            (left + 30, y + 60), f"Pay today or we call your employer {rng.randint(1000, 9999)}", fill="black"
        )
        y += 190
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def recording(index: int, seconds: int = 120) -> bytes:
    frame = bytes([(7 << 3) | 0x04]) + bytes(31)
    return b"#!AMR\n" + frame * (seconds * 50) + bytes([index % 256])


def main() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-dossier-"))
    os.environ.update(
        {
            "DATA_DIR": str(work),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from accounts.services import profile_for, profile_update
    from complaints.services import dossier_create
    from complaints.signing import ensure_signing_identity
    from evidence.findings import case_violations_refresh
    from evidence.models import Incident
    from evidence.services import case_create, evidence_store

    figures: dict = {}
    try:
        call_command("migrate", "--noinput", verbosity=0)
        ensure_signing_identity()  # the one-off key creation is not part of any dossier's time
        owner = get_user_model().objects.create_user("bench", password="bench-pass-123")
        profile_update(
            profile=profile_for(owner),
            display_name="测试用户",
            phone="13800000000",
            id_number="110101199001011234",
        )
        shots = [screenshot(i) for i in range(100)]
        recordings = [recording(i) for i in range(20)]
        for size in SIZES:
            case = case_create(
                owner=owner, title=f"bench {size}", creditor="huabei", lender_name="重庆蚂蚁消费金融有限公司"
            )
            start = datetime(2024, 1, 1, 8, tzinfo=SHANGHAI)
            rng = random.Random(size)
            Incident.objects.bulk_create(
                [
                    Incident(
                        case=case,
                        kind=rng.choice(["call"] * 6 + ["sms", "visit", "third_party"]),
                        occurred_at=start + timedelta(minutes=rng.randint(20, 400) * i // 3 + i),
                        counterpart_number=rng.choice(["17012345678", "17198765432", "02388886666"]),
                        answered=rng.random() < 0.4,
                        duration_seconds=rng.randint(0, 300),
                        contacted=["self"],
                        flags=["threat"] if i % 13 == 0 else [],
                        agency="某某信息咨询服务有限公司",
                        description=f"第{i + 1}次催收：要求立即还款，否则联系家人和单位。",
                    )
                    for i in range(size)
                ],
                batch_size=2000,
            )
            incidents = list(case.incidents.order_by("occurred_at")[:120])
            for index, data in enumerate(shots):
                evidence_store(
                    incident=incidents[index % len(incidents)],
                    upload=SimpleUploadedFile(f"Screenshot_2024010{index % 9 + 1}-1200{index:02d}.png", data),
                )
            for index, data in enumerate(recordings):
                evidence_store(
                    incident=incidents[index % len(incidents)],
                    upload=SimpleUploadedFile(f"recording_{index}.amr", data),
                )
            case_violations_refresh(case=case)

            began = time.perf_counter()
            dossier = dossier_create(
                owner=owner,
                case=case,
                addressee="alipay",
                language="zh-hans",
                requests=["stop_harassment", "stop_third_party"],
            )
            seconds = time.perf_counter() - began
            dossier.refresh_from_db()
            if dossier.status != "ready":
                raise RuntimeError(dossier.error)
            figures[f"dossier_{size}.seconds"] = round(seconds, 2)
            figures[f"dossier_{size}.pages"] = dossier.pages
            figures[f"dossier_{size}.pdf_mb"] = round(dossier.pdf_size / 1e6, 2)
            weasy = weasyprint_seconds(case, work)
            figures[f"weasyprint_{size}.seconds"] = weasy if isinstance(weasy, str) else round(weasy, 2)
            if not isinstance(weasy, str):
                figures[f"dossier_{size}.speedup_vs_weasyprint"] = round(weasy / seconds, 2)
        if 1000 in SIZES and 10000 in SIZES:
            figures["ratio_10000_to_1000"] = round(
                figures["dossier_10000.seconds"] / figures["dossier_1000.seconds"], 2
            )
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def weasyprint_seconds(case, work: Path):
    """WeasyPrint rendering an HTML timeline of the same incidents, with the screenshots inlined as
    files, which is what a Django developer would otherwise reach for."""
    try:
        import weasyprint
    except Exception as exc:  # WeasyPrint needs Pango; report rather than fail
        return f"unavailable ({exc.__class__.__name__})"
    from html import escape

    from django.core.files.storage import default_storage
    from django.utils import timezone

    from evidence.models import EvidenceFile

    images = []
    folder = work / "weasy"
    folder.mkdir(exist_ok=True)
    for evidence in EvidenceFile.objects.filter(incident__case=case, content_type="image/png"):
        target = folder / f"{evidence.sha256}.png"
        if not target.exists():
            with default_storage.open(evidence.storage_name, "rb") as handle:
                target.write_bytes(handle.read())
        images.append((evidence, target))
    rows = []
    for incident in case.incidents.order_by("occurred_at").iterator():
        rows.append(
            f"<tr><td>{timezone.localtime(incident.occurred_at, SHANGHAI):%Y-%m-%d %H:%M:%S}</td>"
            f"<td>{incident.kind}</td><td>{escape(incident.counterpart_number)} {escape(incident.agency)}</td>"
            f"<td>{escape(incident.description)}</td></tr>"
        )
    pictures = "".join(
        f'<figure><img src="{path.as_uri()}"><figcaption>{escape(e.original_name)}<br>{e.sha256}'
        f"</figcaption></figure>"
        for e, path in images
    )
    html = (
        "<html><head><meta charset='utf-8'><style>@page{size:A4;margin:16mm}"
        "body{font-family:'WenQuanYi Zen Hei',sans-serif;font-size:8pt}table{width:100%;border-collapse:collapse}"
        "td{border-bottom:0.3pt solid #ccc;vertical-align:top;padding:2pt}"
        "figure{display:inline-block;width:30%;margin:1%}img{width:100%}</style></head><body>"
        f"<h1>时间线</h1><table>{''.join(rows)}</table><h1>截图</h1>{pictures}</body></html>"
    )
    began = time.perf_counter()
    weasyprint.HTML(string=html, base_url=str(folder)).write_pdf()
    return time.perf_counter() - began


if __name__ == "__main__":
    for key, value in main().items():
        print(f"dossier.{key}: {value}")
