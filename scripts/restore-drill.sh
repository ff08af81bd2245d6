#!/usr/bin/env bash
# Restore drill: prove that a backup restores. In a database of its own it migrates, seeds the demo
# account through the app and builds one dossier (its bundle downloaded), then backs up the way the
# README's runbook says (pg_dump first, then storage and the signing key), drops the database and
# loses the local files, restores everything, and requires `verify_evidence` and `verify_bundle` to
# pass on the restored installation, and a new upload to work after it (sequences and chains go on).
#
# Storage: local files are copied (cp -a) before the loss and copied back. On S3 (EVIDENCE_S3_BUCKET
# set) the objects stay in the bucket, under a prefix of the drill's own: every row records its
# object's version id, so a restore needs the same bucket, or a replica made by bucket replication
# (which keeps version ids), never a plain copy (`aws s3 sync` writes new versions with new ids).
#
# PostgreSQL: DATABASE_URL (a postgres:// URL) names the server; the drill uses the database
# RESTORE_DRILL_DB (default evidence_restore_drill) on it and drops it at the end. Needs pg_dump,
# pg_restore and psql (Debian: postgresql-client) no older than the server.
#
# Only against a target marked for drills: the drill writes objects that Object Lock keeps for the
# retention period, and it drops a database and deletes folders. On S3 the bucket must hold an object
# named .restore-drill-target at its root (create it once in a bucket meant for drills:
# `aws s3api put-object --bucket <drill bucket> --key .restore-drill-target`); without it the drill
# refuses before it writes anything, so a shell with production settings cannot lock objects in the
# real bucket. Local files live in a folder the drill makes and marks itself, and it deletes nothing
# outside that folder. The database it drops is never the one DATABASE_URL names.
# Dumps are written 0600 (umask 077): they hold everyone's personal data.
# Run by scripts/test-production.sh after the suite; alone: DATABASE_URL=postgres://... scripts/restore-drill.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
umask 077
MARKER=.restore-drill-target

if [ -n "${EVIDENCE_S3_BUCKET:-}" ]; then
  # Asked with the installation's own storage settings (endpoint, credentials), at the bucket's root.
  found=$($PY manage.py shell -v 0 -c "
from django.core.files.storage import default_storage as store
try:
    store.connection.meta.client.head_object(Bucket=store.bucket_name, Key='$MARKER')
    print('marked')
except Exception as exc:
    print(f'{exc.__class__.__name__}: {exc}')
" 2>&1 | tail -n 1) || true
  if [ "$found" != marked ]; then
    echo "restore drill: refusing to run: bucket $EVIDENCE_S3_BUCKET is not marked as a drill target" \
      "(no object $MARKER at its root: ${found:-no answer}). The drill writes objects under Object Lock;" \
      "run it against a bucket made for drills, with that object in it." >&2
    exit 1
  fi
fi

for tool in pg_dump pg_restore psql; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "restore drill: $tool is missing (apt-get install postgresql-client): the backup cannot be proven" >&2
    exit 1
  fi
done

SERVER_URL=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
case "$SERVER_URL" in
  postgres://* | postgresql://*) ;;
  *) echo "restore drill: DATABASE_URL must be a postgres:// URL, not ${SERVER_URL%%:*}" >&2; exit 1 ;;
esac
DRILL_DB=${RESTORE_DRILL_DB:-evidence_restore_drill}
if [ "$DRILL_DB" = "${SERVER_URL##*/}" ] || [ "$DRILL_DB" = postgres ]; then
  echo "restore drill: refusing to run: RESTORE_DRILL_DB ($DRILL_DB) is the database DATABASE_URL names; the drill drops it" >&2
  exit 1
fi
ADMIN_URL="${SERVER_URL%/*}/postgres"
export DATABASE_URL="${SERVER_URL%/*}/$DRILL_DB"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/restore-drill.XXXXXX")
touch "$WORK/$MARKER"  # the drill's own folder: the only one it deletes from
BACKUP="$WORK/backup"
export DATA_DIR="$WORK/data"
export DOSSIER_SIGNING_DIR="$DATA_DIR/signing"
export EVIDENCE_ROOT="$DATA_DIR/evidence-store"
# The build runs inline: the drill needs no worker.
export TASKS_BACKEND=django_tasks.backends.immediate.ImmediateBackend
if [ -n "${EVIDENCE_S3_BUCKET:-}" ]; then
  export EVIDENCE_S3_PREFIX="restore-drill-$(basename "$WORK" | cut -d. -f2 | tr '[:upper:]' '[:lower:]')"
  STORAGE="S3 bucket $EVIDENCE_S3_BUCKET, prefix $EVIDENCE_S3_PREFIX"
else
  STORAGE="local files in $EVIDENCE_ROOT"
fi
mkdir -p "$BACKUP" "$DATA_DIR"

# Delete a folder of the drill's own, never anything outside the marked drill folder.
lose() {
  case "$1" in
    "$WORK"/*) [ -e "$WORK/$MARKER" ] && rm -rf "$1" ;;
    *) echo "restore drill: refusing to delete $1: not inside the drill folder $WORK" >&2; exit 1 ;;
  esac
}
sql() { PGOPTIONS="-c client_min_messages=warning" psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -q -c "$1" >/dev/null; }
cleanup() {
  sql "DROP DATABASE IF EXISTS \"$DRILL_DB\" WITH (FORCE)" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { echo "-- restore drill: $*"; }

step "fresh database $DRILL_DB; storage: $STORAGE"
sql "DROP DATABASE IF EXISTS \"$DRILL_DB\" WITH (FORCE)"
sql "CREATE DATABASE \"$DRILL_DB\""
$PY manage.py migrate --no-input -v 0

step "seed the demo account and build one dossier (its bundle downloaded)"
$PY manage.py seed_demo >/dev/null
$PY manage.py shell -v 0 <<PYEOF
from pathlib import Path

from django.contrib.auth import get_user_model

from complaints.services import dossier_create
from complaints.verification import write_bundle
from evidence.models import Case, EvidenceFile
from ledger.models import AuditEvent

owner = get_user_model().objects.get(username="demo")
dossier = dossier_create(owner=owner, case=Case.objects.filter(owner=owner).first(), addressee="alipay")
dossier.refresh_from_db()
assert dossier.status == "ready", dossier.error
with open("$WORK/bundle.zip", "wb") as handle:
    write_bundle(dossier, handle)
counts = f"{EvidenceFile.objects.count()} evidence files, {AuditEvent.objects.count()} audit events"
Path("$WORK/counts-before").write_text(counts)
print(f"   dossier {dossier.number} seal {dossier.seal[:16]}…; {counts}")
PYEOF

step "back up: pg_dump (custom format) first, then storage and the signing key"
pg_dump --format=custom --no-owner --file="$BACKUP/database.dump" "$DATABASE_URL"
# Under umask 077 the dump is 0600 as written; refuse to go on if it is not (it holds personal data).
if [ -n "$(find "$BACKUP/database.dump" -perm /077)" ]; then
  echo "restore drill: $BACKUP/database.dump is readable by others" >&2
  exit 1
fi
if [ -z "${EVIDENCE_S3_BUCKET:-}" ]; then
  cp -a "$EVIDENCE_ROOT" "$BACKUP/evidence-store"
fi
cp -a "$DOSSIER_SIGNING_DIR" "$BACKUP/signing"
echo "   database.dump $(du -h "$BACKUP/database.dump" | cut -f1)"

step "disaster: drop the database, lose the local files and the signing key"
sql "DROP DATABASE \"$DRILL_DB\" WITH (FORCE)"
lose "$DOSSIER_SIGNING_DIR"
if [ -z "${EVIDENCE_S3_BUCKET:-}" ]; then
  lose "$EVIDENCE_ROOT"
fi

step "restore: an empty database, pg_restore, then storage and the signing key"
sql "CREATE DATABASE \"$DRILL_DB\""
pg_restore --exit-on-error --no-owner --dbname="$DATABASE_URL" "$BACKUP/database.dump"
if [ -z "${EVIDENCE_S3_BUCKET:-}" ]; then
  cp -a "$BACKUP/evidence-store" "$EVIDENCE_ROOT"
fi
cp -a "$BACKUP/signing" "$DOSSIER_SIGNING_DIR"
$PY manage.py migrate --check -v 0  # the restored schema is complete: no migration left to apply

step "check: verify_evidence on the restored installation"
$PY manage.py verify_evidence --strict
step "check: verify_bundle on the bundle downloaded before the backup"
$PY manage.py verify_bundle "$WORK/bundle.zip"

step "check: the restored installation takes new evidence (sequences and the audit chain go on)"
$PY manage.py shell -v 0 <<PYEOF
import io
from pathlib import Path

from django.contrib.auth import get_user_model
from reportlab.pdfgen import canvas
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvidenceFile, Incident
from evidence.services import evidence_store
from ledger.models import AuditEvent

before = Path("$WORK/counts-before").read_text()
now = f"{EvidenceFile.objects.count()} evidence files, {AuditEvent.objects.count()} audit events"
assert now == before, f"restored {now}, backed up {before}"
incident = Incident.objects.filter(case__owner__username="demo").first()
# A real PDF (a bare %PDF- header is refused as not a PDF).
buffer = io.BytesIO()
page = canvas.Canvas(buffer)
page.drawString(72, 720, "restore drill")
page.save()
evidence_store(incident=incident, upload=SimpleUploadedFile("after-restore.pdf", buffer.getvalue()))
print(f"   restored {now}; one more file stored after the restore")
PYEOF
$PY manage.py verify_evidence --strict | tail -n 1

echo "restore drill passed: pg_dump -> drop -> pg_restore of $DRILL_DB, $STORAGE, the signing key;" \
  "verify_evidence clean, the earlier bundle verifies, new uploads work"
