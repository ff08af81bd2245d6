"""The restore drill only runs against a target marked for drills (issue 24, "What to build" 5): run
with production settings it once left objects under a 3-year COMPLIANCE lock in the real bucket.
Against a bucket without a `.restore-drill-target` object it refuses before it writes anything;
its dumps are written 0600."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

BASE_DIR = Path(__file__).resolve().parents[1]
DRILL = BASE_DIR / "scripts" / "restore-drill.sh"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def drill_s3():
    """moto's S3 server in this process, and a bucket with Object Lock (as production has)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="evidence-prod", ObjectLockEnabledForBucket=True)
    try:
        yield endpoint, client
    finally:
        server.stop()


def run_drill(endpoint: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVIDENCE_", "DATABASE_"))}
    env.update(
        {
            "EVIDENCE_S3_BUCKET": "evidence-prod",
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_S3_ADDRESSING_STYLE": "path",
            "EVIDENCE_S3_RETENTION_DAYS": "1095",
            # Nothing listens here: once past the target check the drill stops at its first query.
            "DATABASE_URL": f"postgres://drill:drill@127.0.0.1:{free_port()}/evidence",
            "DATA_DIR": str(tmp_path / "data"),
            "TMPDIR": str(tmp_path),
        }
    )
    return subprocess.run(
        ["bash", str(DRILL)], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_drill_refuses_a_bucket_not_marked_as_a_drill_target_and_writes_nothing(drill_s3, tmp_path):
    endpoint, client = drill_s3
    result = run_drill(endpoint, tmp_path)
    assert result.returncode == 1
    assert "refusing to run: bucket evidence-prod is not marked as a drill target" in result.stderr
    assert ".restore-drill-target" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    versions = client.list_object_versions(Bucket="evidence-prod")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert not list(tmp_path.glob("restore-drill.*"))  # it did not even start its work folder


def test_a_bucket_marked_as_a_drill_target_is_accepted(drill_s3, tmp_path):
    endpoint, client = drill_s3
    client.put_object(Bucket="evidence-prod", Key=".restore-drill-target", Body=b"")
    result = run_drill(endpoint, tmp_path)
    # Past the target check; it stops later (no PostgreSQL listens, or no pg_dump here).
    assert "not marked as a drill target" not in result.stderr
    assert result.returncode != 0


def test_dumps_are_written_owner_only():
    script = DRILL.read_text()
    first_dump = script.index("pg_dump --format")
    assert re.search(r"^umask 077$", script[:first_dump], re.MULTILINE)


def test_the_readme_says_to_encrypt_dumps_and_to_mark_drill_buckets():
    readme = (BASE_DIR / "README.md").read_text()
    backups = readme.split("### Backups and restore", 1)[1].split("\n### ", 1)[0]
    assert "umask 077" in backups and "encrypt" in backups.lower()
    assert ".restore-drill-target" in backups
