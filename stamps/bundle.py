"""The timestamp files a bundle carries, and checking them.

For each stamped evidence file `evidence/E1-x.amr` the bundle holds `timestamps/E1-x.amr.proof.json`
(its inclusion proof), and for each batch `timestamps/batch-<n>.tsr` (the TSA's RFC 3161 answer, as
`openssl ts -verify -in` reads it), `batch-<n>.root` (the Merkle root in hex: the token's message
imprint, for `openssl ts -verify -digest`) and `batch-<n>-chain.pem` (the TSA's certificates, for
`-CAfile`). The files are made from what the server keeps, so the same bundle written twice has the
same bytes, and a check compares a bundle's files with them as well as checking the cryptography.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

from .merkle import root_from
from .models import Batch
from .selectors import evidence_stamps
from .tsa import TokenError, check_signature, parse_response

FOLDER = "timestamps/"


def proof_path(bundle_path: str) -> str:
    return f"{FOLDER}{bundle_path.split('/', 1)[-1]}.proof.json"


def batch_paths(batch_id: int) -> dict[str, str]:
    stem = f"{FOLDER}batch-{batch_id}"
    return {"token": f"{stem}.tsr", "root": f"{stem}.root", "chain": f"{stem}-chain.pem"}


def _utc(moment) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass
class StampFiles:
    """The timestamp files of one bundle: path → bytes, and what each proof stands for."""

    files: dict[str, bytes] = field(default_factory=dict)
    # proof path → (evidence bundle path, file sha256, batch id)
    proofs: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    batches: dict[int, Batch] = field(default_factory=dict)


def stamp_files(entries: list[dict]) -> StampFiles:
    """The timestamp files for a manifest's evidence entries (each with "id", "sha256",
    "bundle_path") that are stamped now."""
    stamps = evidence_stamps([entry["id"] for entry in entries])
    wanted = {stamp.batch for stamp in stamps.values() if stamp.state == "stamped"}
    out = StampFiles(batches=Batch.objects.in_bulk(wanted))
    for entry in entries:
        stamp = stamps.get(entry["id"])
        if stamp is None or stamp.state != "stamped" or stamp.leaf.sha256 != entry["sha256"]:
            continue
        batch = out.batches[stamp.batch]
        paths = batch_paths(batch.pk)
        document = {
            "file": entry["bundle_path"],
            "sha256": entry["sha256"],
            "arrived_at": _utc(stamp.leaf.arrived_at),
            "leaf": "sha256(0x00 || sha256 of the file)",
            "path": stamp.leaf.proof,
            "node": "sha256(0x01 || left || right); L: the sibling is on the left",
            "root": batch.root,
            "batch": batch.pk,
            "time": _utc(batch.stamped_at),
            "tsa": batch.tsa_url,
            "token": paths["token"],
            "tsa_chain": paths["chain"],
        }
        path = proof_path(entry["bundle_path"])
        out.files[path] = (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
        out.proofs[path] = (entry["bundle_path"], entry["sha256"], batch.pk)
        out.files[paths["token"]] = bytes(batch.token)
        out.files[paths["root"]] = f"{batch.root}\n".encode("ascii")
        out.files[paths["chain"]] = batch.chain_pem.encode("ascii")
    return out


def check_stamp_files(
    expected: StampFiles,
    *,
    present: set[str],
    read: Callable[[str], bytes | None],
    actual_sha256: dict[str, str],
    required: set[str],
) -> list[str]:
    """Problems with the timestamp files of a bundle, each naming its file. `present`: the bundle's
    member names; `read(path)`: a member's bytes (None when unreadable, already reported);
    `actual_sha256`: evidence path → the hash of the file as found in the bundle; `required`: the
    proof paths the sealed manifest promises (a stamp it names must be there; a stamp made after the
    dossier was issued may be absent from a bundle written before it)."""
    problems: list[str] = []
    tokens_checked: dict[int, bool] = {}

    def token_ok(batch: Batch) -> bool:
        if batch.pk in tokens_checked:
            return tokens_checked[batch.pk]
        paths = batch_paths(batch.pk)
        good = True
        for kind in ("root", "chain"):
            if paths[kind] in present:
                data = read(paths[kind])
                if data is not None and data != expected.files[paths[kind]]:
                    problems.append(f"{paths[kind]}: differs from the one kept for batch {batch.pk}")
                    good = False
        data = read(paths["token"]) if paths["token"] in present else None
        if paths["token"] not in present:
            problems.append(f"{paths['token']}: missing (the token of timestamp batch {batch.pk})")
            good = False
        elif data is not None:
            try:
                response, _moment = parse_response(data, digest=bytes.fromhex(batch.root))
                problem = check_signature(
                    response, digest=bytes.fromhex(batch.root), trusted_pem=batch.chain_pem
                )
            except TokenError as exc:
                problem = str(exc)
            if problem:
                problems.append(
                    f"{paths['token']}: not a valid RFC 3161 token over root {batch.root}: {problem}"
                )
                good = False
            elif data != expected.files[paths["token"]]:
                problems.append(f"{paths['token']}: differs from the token kept for batch {batch.pk}")
                good = False
        tokens_checked[batch.pk] = good
        return good

    for path, (file_path, sealed_sha256, batch_id) in expected.proofs.items():
        if path not in present:
            if path in required:
                problems.append(f"{path}: missing (the sealed manifest says {file_path} was timestamped)")
            continue
        data = read(path)
        if data is None:
            continue
        batch = expected.batches[batch_id]
        try:
            document = json.loads(data.decode("utf-8"))
            leads_to = root_from(actual_sha256.get(file_path, sealed_sha256), document["path"])
            claimed_root = document["root"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            problems.append(f"{path}: not a readable inclusion proof")
            token_ok(batch)
            continue
        if data != expected.files[path]:
            problems.append(f"{path}: differs from the inclusion proof kept for {file_path}")
        elif file_path in actual_sha256 and leads_to != batch.root:
            problems.append(
                f"{file_path}: does not match its timestamp: its sha256 {actual_sha256[file_path]} with "
                f"{path} leads to root {leads_to}, the token is over {claimed_root}"
            )
        token_ok(batch)
    return problems
