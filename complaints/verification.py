"""The verifiable bundle, and checking a dossier PDF or bundle for tampering.

A bundle (zip) holds dossier.pdf, manifest.json, the evidence files, SHA256SUMS (checkable with
`sha256sum -c SHA256SUMS` after unzipping) and VERIFY.txt. Verification trusts only what the
signature protects: the manifest embedded in the signed PDF says what every file must hash to.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import IO

from django.core.files.storage import default_storage

from evidence.models import EvidenceFile
from evidence.storage import open_evidence

from .models import Dossier, DossierStatus
from .pdf import texts
from .signing import check_signature, embedded_manifest

# A bundle larger than this when unpacked is refused rather than read (zip bombs).
MAX_UNPACKED_BYTES = 8 * 1024 * 1024 * 1024
MAX_ENTRIES = 100_000


def _sha256_stream(handle, chunk: int = 1 << 20) -> str:
    hasher = hashlib.sha256()
    while block := handle.read(chunk):
        hasher.update(block)
    return hasher.hexdigest()


# --- building -------------------------------------------------------------------------------------

def verify_text(dossier: Dossier) -> str:
    header = (f"Dossier / 材料编号: {dossier.number}\n"
              f"Seal / 封印 (sha256 of manifest.json): {dossier.seal}\n"
              f"dossier.pdf sha256: {dossier.pdf_sha256}\n\n"
              "Quick check / 快速核验:\n"
              "  sha256sum -c SHA256SUMS\n"
              "  sha256sum manifest.json     # must equal the seal / 应与封印一致\n\n")
    return header + texts()["verify"]["text"].strip() + "\n"


def write_bundle(dossier: Dossier, target: IO[bytes]) -> list[str]:
    """Write the bundle zip for an issued dossier into `target`. Returns the evidence paths that
    could not be included (their rows were deleted after issue)."""
    manifest = json.loads(dossier.manifest)
    sums: list[tuple[str, str]] = []
    missing: list[str] = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as bundle:
        with default_storage.open(dossier.pdf_name, "rb") as handle:
            bundle.writestr("dossier.pdf", handle.read())
        sums.append((dossier.pdf_sha256, "dossier.pdf"))
        manifest_bytes = dossier.manifest.encode("utf-8")
        bundle.writestr("manifest.json", manifest_bytes)
        sums.append((hashlib.sha256(manifest_bytes).hexdigest(), "manifest.json"))
        rows = EvidenceFile.objects.in_bulk([entry["id"] for entry in manifest["evidence"]])
        for entry in manifest["evidence"]:
            row = rows.get(entry["id"])
            if row is None:
                missing.append(entry["bundle_path"])
                continue
            with open_evidence(row) as source, \
                    bundle.open(zipfile.ZipInfo(entry["bundle_path"], date_time=(2000, 1, 1, 0, 0, 0)), "w",
                                force_zip64=True) as sink:
                while block := source.read(1 << 20):
                    sink.write(block)
            sums.append((entry["sha256"], entry["bundle_path"]))
        bundle.writestr("SHA256SUMS", "".join(f"{digest}  {path}\n" for digest, path in sums))
        bundle.writestr("VERIFY.txt", verify_text(dossier))
    return missing


def bundle_file(dossier: Dossier):
    """The bundle in a temporary file (spooled to disk when large), positioned at the start."""
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    write_bundle(dossier, spool)
    spool.seek(0)
    return spool


# --- checking -------------------------------------------------------------------------------------

@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    dossier: Dossier | None = None
    seal: str = ""
    files_checked: int = 0

    @property
    def valid(self) -> bool:
        return not self.problems and self.dossier is not None

    def as_api(self) -> dict:
        known = {"seal": self.dossier.seal, "created_at": self.dossier.created_at.isoformat()} if self.dossier else None
        return {"valid": self.valid, "dossier": known, "problems": list(self.problems)}


def _issued(seal: str) -> Dossier | None:
    return Dossier.objects.filter(seal=seal, status=DossierStatus.READY).first() if seal else None


def verify_pdf_bytes(pdf: bytes, name: str = "dossier.pdf") -> tuple[Verdict, bytes | None]:
    verdict = Verdict()
    signature = check_signature(pdf)
    if not signature.ok:
        verdict.problems.append(f"{name}: signature broken: {signature.problem}")
    try:
        manifest = embedded_manifest(pdf)
    except Exception as exc:
        manifest = None
        verdict.problems.append(f"{name}: the manifest cannot be read ({exc.__class__.__name__})")
    if manifest is None:
        if not any("manifest" in p for p in verdict.problems):
            verdict.problems.append(f"{name}: no manifest.json attachment: not a dossier of this kind")
        return verdict, None
    verdict.seal = hashlib.sha256(manifest).hexdigest()
    verdict.dossier = _issued(verdict.seal)
    if verdict.dossier is None:
        verdict.problems.append(f"seal {verdict.seal} was never issued by this server")
    else:
        actual = hashlib.sha256(pdf).hexdigest()
        if actual != verdict.dossier.pdf_sha256:
            verdict.problems.append(f"{name}: expected sha256 {verdict.dossier.pdf_sha256} (as issued), "
                                    f"actual {actual}")
    return verdict, manifest


def verify_zip(handle: IO[bytes]) -> Verdict:
    try:
        bundle = zipfile.ZipFile(handle)
    except zipfile.BadZipFile:
        return Verdict(problems=["the file is neither a dossier PDF nor a readable bundle zip"])
    with bundle:
        entries = {info.filename: info for info in bundle.infolist() if not info.is_dir()}
        if len(entries) > MAX_ENTRIES or sum(i.file_size for i in entries.values()) > MAX_UNPACKED_BYTES:
            return Verdict(problems=["the bundle is too large to check"])
        if "dossier.pdf" not in entries:
            verdict = Verdict(problems=["dossier.pdf: missing from the bundle"])
            sealed = None
        else:
            verdict, sealed = verify_pdf_bytes(bundle.read("dossier.pdf"))
        if "manifest.json" not in entries:
            verdict.problems.append("manifest.json: missing from the bundle")
            listed = None
        else:
            listed = bundle.read("manifest.json")
            listed_hash = hashlib.sha256(listed).hexdigest()
            if sealed is not None and listed != sealed:
                verdict.problems.append(f"manifest.json: altered (sha256 {listed_hash}; the manifest sealed in "
                                        f"dossier.pdf has sha256 {verdict.seal})")
            elif sealed is None:
                verdict.seal = listed_hash
                verdict.dossier = verdict.dossier or _issued(listed_hash)
                if verdict.dossier is None:
                    verdict.problems.append(f"seal {listed_hash} was never issued by this server")
        # What each file must hash to comes from the signed manifest when there is one.
        source = sealed if sealed is not None else listed
        try:
            manifest = json.loads(source) if source else {"evidence": []}
        except (ValueError, UnicodeDecodeError):
            verdict.problems.append("manifest.json: not valid JSON")
            manifest = {"evidence": []}
        for entry in manifest.get("evidence", []):
            path = entry.get("bundle_path", "")
            if path not in entries:
                verdict.problems.append(f"{path}: missing (expected sha256 {entry.get('sha256')})")
                continue
            with bundle.open(entries[path]) as member:
                actual = _sha256_stream(member)
            verdict.files_checked += 1
            if actual != entry.get("sha256"):
                verdict.problems.append(f"{path}: expected sha256 {entry.get('sha256')}, actual {actual}")
    return verdict


def verify_upload(handle: IO[bytes]) -> Verdict:
    """Check a dossier PDF or bundle zip, from a file object positioned anywhere."""
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    if head.startswith(b"%PDF-"):
        verdict, _manifest = verify_pdf_bytes(handle.read())
        return verdict
    if head.startswith(b"PK\x03\x04"):
        return verify_zip(handle)
    return Verdict(problems=["the file is neither a dossier PDF nor a bundle zip"])
