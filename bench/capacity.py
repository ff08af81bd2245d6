"""Capacity of one gunicorn worker process (config/gunicorn.py: gthread, WEB_THREADS threads;
WEB_CONCURRENCY=1), over real HTTP:

1. small uploads per second: 200 screenshots-sized files (100 KB) sent one after another, then from
   4 clients at once;
2. slow uploads: N clients each sending a 2 MB recording at 200 KB/s (a phone on a weak network)
   while another client asks for /healthz: how long that quick request waits;
3. many slow phones: SLOW_CLIENTS (50) uploads of 2 MB at 200 KB/s at once while another client asks
   for /healthz again and again: its median, 95th percentile and slowest answer (goal: p95 < 200 ms),
   and whether every upload was kept (201).

Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from upload import free_port, install, make_wav, start_gunicorn, wait_for_port

SMALL = 100 * 1024
SLOW_SIZE = 2 * 1024 * 1024
SLOW_RATE = 200 * 1024  # bytes per second
SLOW_CLIENTS = int(os.environ.get("BENCH_SLOW_CLIENTS", "50"))


def setup(work: Path) -> tuple[dict, str, int]:
    env = {
        **os.environ,
        "DATA_DIR": str(work / "data"),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "EVIDENCE_QUOTA_BYTES": str(1 << 40),
        "WEB_CONCURRENCY": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    token, incident = install(env)
    return env, token, incident


def post(port: int, token: str, incident: int, name: str, data: bytes, rate: int | None = None) -> int:
    boundary = "----capacity"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.putrequest("POST", f"/api/v1/incidents/{incident}/evidence/")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + len(data) + len(tail)))
    connection.endheaders()
    connection.send(head)
    step = 16 * 1024
    for start in range(0, len(data), step):
        connection.send(data[start : start + step])
        if rate:
            time.sleep(step / rate)
    connection.send(tail)
    response = connection.getresponse()
    response.read()
    return response.status


def distinct(base: bytes, n: int) -> bytes:
    """The same WAV with its last bytes changed: a different file each time (no content reuse)."""
    return base[:-8] + n.to_bytes(8, "big")


def healthz_seconds(port: int) -> float:
    asked = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", "/healthz")
    connection.getresponse().read()
    connection.close()
    return time.perf_counter() - asked


def many_slow_uploads(port: int, token: str, incident: int, slow: bytes) -> dict:
    """SLOW_CLIENTS slow uploads at once; /healthz asked every 100 ms while they are all under way."""
    if SLOW_CLIENTS < 1:
        return {}
    statuses: list[int] = []

    def phone(k: int) -> None:
        try:
            statuses.append(
                post(port, token, incident, f"many-{k}.wav", distinct(slow, 500_000 + k), SLOW_RATE)
            )
        except OSError as exc:
            statuses.append(repr(exc))

    phones = [threading.Thread(target=phone, args=(k,)) for k in range(SLOW_CLIENTS)]
    for thread in phones:
        thread.start()
    time.sleep(1.0)  # every phone connected and sending
    waits = []
    while sum(thread.is_alive() for thread in phones) == SLOW_CLIENTS:
        waits.append(healthz_seconds(port))
        time.sleep(0.1)
    for thread in phones:
        thread.join()
    waits.sort()
    ms = [round(w * 1000, 1) for w in waits]
    return {
        f"healthz_beside_{SLOW_CLIENTS}_slow_uploads_asked": len(ms),
        f"healthz_beside_{SLOW_CLIENTS}_slow_uploads_p50_ms": ms[len(ms) // 2] if ms else None,
        f"healthz_beside_{SLOW_CLIENTS}_slow_uploads_p95_ms": ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        if ms
        else None,
        f"healthz_beside_{SLOW_CLIENTS}_slow_uploads_max_ms": ms[-1] if ms else None,
        "healthz_p95_goal_ms": "< 200",
        f"slow_uploads_kept_of_{SLOW_CLIENTS}": statuses.count(201),
        "slow_upload_failures": sorted({str(s) for s in statuses if s != 201}),
    }


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as folder:
        work = Path(folder)
        make_wav(work / "small.wav", SMALL)
        make_wav(work / "slow.wav", SLOW_SIZE)
        small, slow = (work / "small.wav").read_bytes(), (work / "slow.wav").read_bytes()
        env, token, incident = setup(work)
        port = free_port()
        server = start_gunicorn(env, port)
        figures: dict = {}
        try:
            wait_for_port(port)
            started = time.perf_counter()
            statuses = [post(port, token, incident, f"s{n}.wav", distinct(small, n)) for n in range(200)]
            figures["small_uploads_per_second_1_client"] = round(200 / (time.perf_counter() - started), 1)
            assert set(statuses) == {201}, statuses

            results: list[int] = []

            def client(offset: int) -> None:
                for n in range(50):
                    results.append(
                        post(
                            port,
                            token,
                            incident,
                            f"c{offset}-{n}.wav",
                            distinct(small, 10_000 + offset * 100 + n),
                        )
                    )

            threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            figures["small_uploads_per_second_4_clients"] = round(200 / (time.perf_counter() - started), 1)

            for count in (1, 2):
                slow_threads = [
                    threading.Thread(
                        target=post,
                        args=(
                            port,
                            token,
                            incident,
                            f"slow{count}-{k}.wav",
                            distinct(slow, 90_000 + count * 10 + k),
                            SLOW_RATE,
                        ),
                    )
                    for k in range(count)
                ]
                for thread in slow_threads:
                    thread.start()
                time.sleep(0.5)
                asked = time.perf_counter()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                figures[f"healthz_wait_seconds_behind_{count}_slow_uploads"] = round(
                    time.perf_counter() - asked, 1
                )
                for thread in slow_threads:
                    thread.join()
            figures.update(many_slow_uploads(port, token, incident, slow))
        finally:
            server.terminate()
            server.wait(timeout=30)
        figures["slow_upload_seconds_each"] = round(SLOW_SIZE / SLOW_RATE, 1)
        return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
