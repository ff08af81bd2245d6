"""Image-bomb benchmark: a ~164 KB PNG declaring 13000×13000 pixels, a normal 1080×2400 phone
screenshot, and two 8000×6000 (48 MP, just under the default limit of 50 MP) pictures, a PNG (decoded
in full) and a baseline JPEG (decoded at 1/8 scale), each uploaded over real HTTP through the API to
the app behind gunicorn (one fresh worker per file, so its peak RSS is that upload's alone).

Prints, per file: seconds, the worker's peak RSS growth (VmHWM from /proc), whether a thumbnail was
made, and what the metadata says. For reference it also prints what decoding the bomb the way
thumbnails used to (Image.open, convert to RGB, thumbnail) costs a process. Figures only; nothing is
asserted.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from PIL import Image
from upload import (
    free_port,
    install,
    rss_kib,
    start_gunicorn,
    stream_upload,
    wait_for_port,
    worker_pid,
)

BOMB_SIDE = int(os.environ.get("BENCH_BOMB_SIDE", 13000))

# What thumbnails did before the limit: decode the whole picture, in a process of its own.
FULL_DECODE = """
import resource, sys, warnings
from PIL import Image
warnings.simplefilter("ignore", Image.DecompressionBombWarning)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with Image.open(sys.argv[1]) as picture:
    picture.draft("RGB", (360, 800))
    picture = picture.convert("RGB")
    picture.thumbnail((360, 800), Image.Resampling.BILINEAR, reducing_gap=2.0)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_bomb(path: Path, side: int) -> None:
    """A valid 8-bit greyscale PNG of zeros, compressed one row at a time (never held decoded)."""
    row = bytes(1 + side)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def make_screenshot(path: Path) -> None:
    """A 1080×2400 RGB PNG with a capture time in its EXIF, like a phone's screenshot."""
    width, height = 1080, 2400
    gradient = bytes((x * 7 + y * 3) & 0xFF for y in range(height // 8) for x in range(width // 8))
    small = Image.frombytes("L", (width // 8, height // 8), gradient).convert("RGB")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:03:15 23:10:05"
    buffer = io.BytesIO()
    small.resize((width, height)).save(buffer, "PNG", exif=exif.tobytes())
    path.write_bytes(buffer.getvalue())


def make_large(path: Path, fmt: str) -> None:
    """An 8000×6000 picture: the largest a phone camera makes that the default limit decodes."""
    picture = Image.linear_gradient("L").resize((8000, 6000)).convert("RGB")
    picture.save(path, fmt, **({"quality": 85} if fmt == "JPEG" else {"compress_level": 1}))


def get(port: int, token: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    return response.status, response.read()


def measure(env: dict, token: str, incident: int, path: Path) -> dict:
    port = free_port()
    server = start_gunicorn(env, port)
    try:
        wait_for_port(port)
        worker = worker_pid(server.pid)
        get(port, token, "/api/v1/cases/")  # warm the worker: imports, first query
        rss_before = rss_kib(worker, "VmRSS")
        elapsed, body = stream_upload(port, path, token, incident)
        peak = rss_kib(worker, "VmHWM")
        status, data = get(port, token, f"/api/v1/evidence/{body['id']}/download")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "seconds": elapsed,
        "rss_growth_mib": max(peak - rss_before, 0) / 1024,
        "body": body,
        "download_matches": status == 200 and data == path.read_bytes(),
    }


def thumbnails_made(data_dir: Path) -> int:
    return sum(1 for p in (data_dir / "evidence-store" / "thumbs").rglob("*.jpg"))


def main() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-image-bomb-"))
    try:
        bomb, screenshot = work / "bomb.png", work / "Screenshot_20240315-231005.png"
        make_bomb(bomb, BOMB_SIDE)
        make_screenshot(screenshot)
        large_png, large_jpeg = work / "large.png", work / "large.jpg"
        make_large(large_png, "PNG")
        make_large(large_jpeg, "JPEG")
        data_dir = work / "data"
        env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "FILE_UPLOAD_TEMP_DIR": str(work / "tmp"),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        (work / "tmp").mkdir()
        token, incident_id = install(env)

        figures: dict = {
            "bomb_file_kib": round(bomb.stat().st_size / 1024, 1),
            "bomb_declared": f"{BOMB_SIDE}x{BOMB_SIDE}",
            "bomb_declared_megapixels": round(BOMB_SIDE * BOMB_SIDE / 1e6, 1),
            "screenshot_file_kib": round(screenshot.stat().st_size / 1024, 1),
        }
        for label, path in (
            ("bomb", bomb),
            ("screenshot", screenshot),
            ("png_48mp", large_png),
            ("jpeg_48mp", large_jpeg),
        ):
            before = thumbnails_made(data_dir) if (data_dir / "evidence-store" / "thumbs").exists() else 0
            result = measure(env, token, incident_id, path)
            metadata = result["body"].get("metadata", {})
            after = thumbnails_made(data_dir) if (data_dir / "evidence-store" / "thumbs").exists() else 0
            figures.update(
                {
                    f"{label}_upload_seconds": round(result["seconds"], 3),
                    f"{label}_worker_peak_rss_growth_mib": round(result["rss_growth_mib"], 1),
                    f"{label}_thumbnail_made": after > before,
                    f"{label}_image_too_large": json.dumps(metadata.get("image_too_large")),
                    f"{label}_exif_time": metadata.get("exif_time"),
                    f"{label}_download_matches": result["download_matches"],
                }
            )

        started = time.perf_counter()
        decode = subprocess.run(
            [sys.executable, "-c", FULL_DECODE, str(bomb)], capture_output=True, text=True
        )
        figures["reference_full_decode_seconds"] = round(time.perf_counter() - started, 3)
        figures["reference_full_decode_peak_rss_growth_mib"] = (
            round(float(decode.stdout.strip()), 1)
            if decode.returncode == 0
            else f"failed: {decode.stderr[-200:]}"
        )
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for key, value in main().items():
        print(f"image_bomb.{key}: {value}")
