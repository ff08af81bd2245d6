#!/usr/bin/env bash
# Make the release fixture of one release with that release's own code:
#   scripts/make-release-fixture.sh <commit> <version>      e.g.  ecc83d8 0.1.0
# The release's files are taken from git (no work tree of yours is touched) into a temporary folder;
# scripts/release_fixture_populate.py then fills an empty installation there through the release's
# own API (two users, cases, incidents of every kind, uploads, an import, a notice and a complaint
# where the release has them, issued dossiers) and saves under tests/fixtures/releases/<version>/:
#   data/         the installation's data folder (SQLite database, evidence store, signing key)
#   dossiers/     every issued dossier's PDF and bundle, exactly as downloaded
#   meta.json     users, passwords, API tokens, ids, seals and digests
#   source.tar.gz the release's code (no tests, docs or benchmarks), so the upgrade tests can run the
#                 old code against a migrated schema without git history
# It uses this checkout's .venv (make install-test): a release's code runs on today's pinned libraries.
set -euo pipefail
commit="${1:?usage: make-release-fixture.sh <commit> <version>}"
version="${2:?usage: make-release-fixture.sh <commit> <version>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$root/.venv/bin/python"
out="$root/tests/fixtures/releases/$version"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/src"
git -C "$root" archive --format=tar "$commit" | tar -x -C "$work/src"
rm -rf "$out"
mkdir -p "$out"
(
  cd "$work/src"
  if [ -f scripts/compile_messages.py ]; then "$py" scripts/compile_messages.py >/dev/null; fi
  env -u DATABASE_URL -u EVIDENCE_S3_BUCKET DJANGO_DEBUG=1 DATA_DIR="$out/data" \
    LOG_LEVEL=WARNING "$py" "$root/scripts/release_fixture_populate.py" "$out"
)
rm -rf "$out/data/resumable" "$out/data/test-db.sqlite3" "$out/data/exports"
git -C "$root" archive --format=tar.gz -o "$out/source.tar.gz" "$commit" -- . ':!docs' ':!tests' ':!bench'
git -C "$root" rev-parse "$commit" > "$out/COMMIT"
du -sh "$out"
