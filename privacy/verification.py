"""Checking an export zip with nothing but its own contents (no database): every file against
SHA256SUMS, every evidence file against the SHA-256 recorded when it arrived, and the audit chain
link by link, ending at the head manifest.json states. `manage.py verify_export` prints the result."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterable
from typing import IO

from ledger.models import canonical_json

GENESIS = "0" * 64
SUMS_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
BLOCK = 1 << 20


def chain_problems_of_lines(lines: Iterable[bytes]) -> tuple[int, str, list[str]]:
    """Re-compute an exported chain: (events, last hash, one line per broken link or payload).

    hash = sha256(prev_hash || canonical_json({seq, action, subject, payload_digest, at})), and
    payload_digest = sha256(canonical_json(payload)): the same rule as ledger.chain, from the lines
    alone."""
    problems: list[str] = []
    previous = GENESIS
    count = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        count += 1
        where = f"audit/chain.jsonl line {number}"
        try:
            event = json.loads(raw)
            body = {key: event[key] for key in ("seq", "action", "subject", "payload_digest", "at")}
            payload, prev_hash, stated = event["payload"], event["prev_hash"], event["hash"]
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{where}: not an audit event ({exc.__class__.__name__})")
            previous = "?"
            continue
        if body["seq"] != count:
            problems.append(f"{where}: seq {body['seq']}, expected {count}; an event is missing or inserted")
        if prev_hash != previous:
            problems.append(f"{where}: prev_hash {prev_hash} does not link to {previous}")
        digest = hashlib.sha256(canonical_json(payload)).hexdigest()
        if digest != body["payload_digest"]:
            problems.append(f"{where}: payload changed (digest {digest}, recorded {body['payload_digest']})")
        computed = hashlib.sha256(
            str(prev_hash).encode("ascii", "replace") + canonical_json(body)
        ).hexdigest()
        if computed != stated:
            problems.append(f"{where}: hash mismatch (computed {computed}, stated {stated})")
        previous = stated
    return count, previous, problems


def _member_sha256(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with archive.open(name) as stream:
        while block := stream.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def verify_export(handle: IO[bytes]) -> tuple[list[str], dict]:
    """(problems, facts) for an export zip; no problems means intact."""
    problems: list[str] = []
    facts = {"files": 0, "evidence": 0, "events": 0}
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile:
        return ["not a zip file"], facts
    with archive:
        members = [info.filename for info in archive.infolist() if not info.is_dir()]
        present = set(members)
        for name in members:
            if name.startswith("/") or ".." in name.split("/"):
                problems.append(f"unsafe path in export: {name}")
        if "SHA256SUMS" not in present:
            return [*problems, "SHA256SUMS: missing"], facts
        listed: dict[str, str] = {}
        for number, line in enumerate(archive.read("SHA256SUMS").decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            match = SUMS_LINE.fullmatch(line)
            if match is None:
                problems.append(f"SHA256SUMS line {number} is not “<sha256>  <file>”")
                continue
            listed[match.group(2)] = match.group(1).lower()
        for name, expected in listed.items():
            if name not in present:
                problems.append(f"{name}: missing (expected sha256 {expected})")
                continue
            actual = _member_sha256(archive, name)
            facts["files"] += 1
            if actual != expected:
                problems.append(f"{name}: expected sha256 {expected}, actual {actual}")
        for name in members:
            if name != "SHA256SUMS" and name not in listed:
                problems.append(f"{name}: not listed in SHA256SUMS")

        def load(name: str):
            if name not in present:
                problems.append(f"{name}: missing")
                return None
            try:
                return json.loads(archive.read(name))
            except ValueError:
                problems.append(f"{name}: not valid JSON")
                return None

        # Each file as received: the SHA-256 recorded on arrival is what SHA256SUMS must say.
        for entry in load("evidence.json") or []:
            facts["evidence"] += 1
            path, recorded = entry.get("path"), entry.get("sha256")
            if path not in listed:
                problems.append(f"{path}: in evidence.json but not in the export")
            elif listed[path] != recorded:
                problems.append(
                    f"{path}: recorded sha256 {recorded} when received, the exported file has {listed[path]}"
                )
        manifest = load("manifest.json") or {}
        for problem in manifest.get("problems", []):
            problems.append(f"noted when exported: {problem}")
        if "audit/chain.jsonl" in present:
            with archive.open("audit/chain.jsonl") as stream:
                count, last, chain = chain_problems_of_lines(stream)
            facts["events"] = count
            problems.extend(chain)
            head = manifest.get("audit_chain_head") or {}
            if head and (head.get("seq") != count or (count and head.get("hash") != last)):
                problems.append(
                    f"audit/chain.jsonl: ends at seq {count} {last}; manifest.json states "
                    f"seq {head.get('seq')} {head.get('hash')}"
                )
        else:
            problems.append("audit/chain.jsonl: missing")
    return problems, facts
