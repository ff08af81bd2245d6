#!/usr/bin/env bash
# The production-like test run: the whole suite against PostgreSQL, S3 (moto's server over HTTP,
# bucket with Object Lock) and the database task backend with real db_worker processes.
# Starts what it needs and stops what it started. Usage: make test-production
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
S3_PORT=${S3_PORT:-5077}

# PostgreSQL: already running on some machines; elsewhere install it and start a cluster.
if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing PostgreSQL"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends postgresql
  fi
  version=$(ls /etc/postgresql | sort -n | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_isready -h "$PG_HOST" -p "$PG_PORT" -q && break; sleep 1; done
fi
pg_isready -h "$PG_HOST" -p "$PG_PORT"
# A password for TCP logins where the cluster asks for one (harmless where it trusts local users).
if command -v runuser >/dev/null 2>&1 && id postgres >/dev/null 2>&1; then
  runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null 2>&1 || true
fi

# S3: moto's standalone server, a bucket with Object Lock (which turns versioning on).
.venv/bin/moto_server -H 127.0.0.1 -p "$S3_PORT" >/tmp/moto-ci.log 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  if $PY -c "import socket; socket.create_connection(('127.0.0.1', $S3_PORT), 1)" 2>/dev/null; then break; fi
  sleep 0.5
done

export DATABASE_URL="postgres://postgres:postgres@$PG_HOST:$PG_PORT/evidence_ci"
export EVIDENCE_S3_BUCKET=evidence-ci
export AWS_S3_ENDPOINT_URL="http://127.0.0.1:$S3_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_S3_REGION_NAME=us-east-1 AWS_S3_ADDRESSING_STYLE=path
export EVIDENCE_S3_RETENTION_DAYS=1 EVIDENCE_S3_RETENTION_MODE=COMPLIANCE
export TASKS_BACKEND=django_tasks_db.DatabaseBackend

$PY - <<'PYEOF'
import os
import boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT_URL"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket=os.environ["EVIDENCE_S3_BUCKET"], ObjectLockEnabledForBucket=True)
# A bucket made for this run: marked as a restore-drill target (scripts/restore-drill.sh refuses others).
s3.put_object(Bucket=os.environ["EVIDENCE_S3_BUCKET"], Key=".restore-drill-target", Body=b"")
print("bucket ready:", os.environ["EVIDENCE_S3_BUCKET"], "object lock:",
      s3.get_object_lock_configuration(Bucket=os.environ["EVIDENCE_S3_BUCKET"])["ObjectLockConfiguration"]["ObjectLockEnabled"])
PYEOF

# A clean database for this run (a previous run that was interrupted may have left sessions).
$PY - <<'PYEOF'
import os
import psycopg

with psycopg.connect(os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
    for name in ("test_evidence_ci", "evidence_ci"):
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.execute('CREATE DATABASE "evidence_ci"')
PYEOF

echo "== production-like suite: PostgreSQL, S3 with Object Lock, database task backend"
$PY manage.py makemigrations --check --dry-run
$PY -m pytest -p no:cacheprovider "$@"

# Backups that restore: dump, drop, restore, verify (scripts/restore-drill.sh), on S3 and on local files.
if ! command -v pg_dump >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "installing postgresql-client (pg_dump, pg_restore) for the restore drill"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends postgresql-client
fi
echo "== restore drill: S3 with Object Lock (objects and their version ids stay in the bucket)"
bash scripts/restore-drill.sh
echo "== restore drill: local files (copied before the loss, copied back)"
env -u EVIDENCE_S3_BUCKET bash scripts/restore-drill.sh
