#!/usr/bin/env bash
# README › Upgrading, followed literally on a copy of each release fixture: the fenced block after
# <!-- upgrade-steps --> runs with DATA_DIR at the copy, then the checks the README promises, then the
# block after <!-- rollback-steps -->. Usage: scripts/upgrade-drill.sh [version ...] (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
block() {  # the sh block that follows the marker $1 in README.md
  awk -v marker="<!-- $1 -->" '
    $0 == marker { found = 1; next }
    found && /^```sh/ { inside = 1; next }
    inside && /^```/ { exit }
    inside { print }' README.md
}
steps="$(block upgrade-steps)"
rollback="$(block rollback-steps)"
[ -n "$steps" ] && [ -n "$rollback" ] || { echo "README.md: upgrade or rollback steps not found" >&2; exit 1; }
versions=("$@")
if [ "${#versions[@]}" -eq 0 ]; then
  for folder in tests/fixtures/releases/*/; do versions+=("$(basename "$folder")"); done
fi
for version in "${versions[@]}"; do
  work="$(mktemp -d)"
  cp -a "tests/fixtures/releases/$version/data" "$work/data"
  echo "== upgrade drill: release $version, the README's steps"
  (
    export DATA_DIR="$work/data" DJANGO_DEBUG=1 LOG_LEVEL=WARNING
    unset DATABASE_URL EVIDENCE_S3_BUCKET
    bash -euo pipefail -c "$steps"
    for bundle in "tests/fixtures/releases/$version"/dossiers/*.zip; do
      .venv/bin/python manage.py verify_bundle "$bundle"
    done
    [ "$(stat -c %a "$DATA_DIR.before-upgrade")" = 700 ] || { echo "the backup is readable by others" >&2; exit 1; }
    bash -euo pipefail -c "$rollback"
    cmp "$DATA_DIR/db.sqlite3" "$root/tests/fixtures/releases/$version/data/db.sqlite3"
    echo "rolled back: the database is the release's own again"
  )
  rm -rf "$work"
done
echo "upgrade drill: OK"
