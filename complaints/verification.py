"""The verifiable bundle, and checking a dossier PDF or bundle for tampering.

A bundle (zip) holds dossier.pdf, manifest.json, the evidence files, SHA256SUMS (checkable with
`sha256sum -c SHA256SUMS` after unzipping) and VERIFY.txt. Verification trusts only what the
signature protects: the manifest embedded in the signed PDF says what every file must hash to, and
once its seal is known to have been issued here, the manifest recorded at issue says which files
the bundle holds. Any other file is named as unexpected; SHA256SUMS and VERIFY.txt, not sealed,
must say exactly what the server wrote. Trusted-timestamp files (timestamps/: tokens, roots, TSA
chains, inclusion proofs) are checked against what the server keeps and by their cryptography.

Anyone may upload to the public verify page, so a check never costs more than a real bundle could:
the zip's directory is sized up before it is parsed, every member's declared size and compression
ratio are checked before a byte is inflated, members are read in blocks against their own limit and
the bundle's total, evidence is hashed as it streams (never held), and the PDF is parsed once, from
a temporary file, with pyHanko's decoding limits. Past a limit the upload is refused
(VerificationRefused) with a message naming it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from evidence.archives import (
    ArchiveRefused,
    ZipLimits,
    refuse_crowded_directory,
    refuse_oversized_members,
    too_many_entries,
)
from evidence.hashing import sha256_of
from evidence.models import EvidenceFile
from evidence.storage import open_evidence
from stamps.bundle import FOLDER as STAMPS_FOLDER
from stamps.bundle import check_stamp_files, stamp_files
from stamps.bundle import proof_path as stamp_proof_path

from .bundle_files import derived_files, known_verify_py, sealed_bundle_files, unsealed_verify_py
from .dossier_texts import texts
from .integrity import issued_by_seal
from .models import Dossier, IssuedSeal
from .signing import check_signature, embedded_manifest

# pyHanko reads the PDF: it is imported by the functions that do (verify_pdf and the limits it
# reads with), so web processes that never check a PDF never load it.
if TYPE_CHECKING:
    from pyhanko.pdf_utils.decode_limits import DecodeLimits

MiB = 1024 * 1024
BLOCK = MiB
# A dossier.pdf taken from a zip stays in memory up to this size, on disk beyond it.
PDF_SPOOL_BYTES = 8 * MiB

# --- building -------------------------------------------------------------------------------------


# The manual comparison of every file with the sealed manifest (python3's standard library only): a
# bundle whose files and SHA256SUMS were both replaced fails it, as it fails verify.py.
SEALED_FILES_CHECK = (
    "python3 -c \"import hashlib,json,os;m=json.load(open('manifest.json',encoding='utf-8'));"
    "f={e['bundle_path']:e['sha256'] for e in m['evidence']};f.update(m['bundle']['files']);"
    "[print('OK' if os.path.isfile(p) and hashlib.sha256(open(p,'rb').read()).hexdigest()==h "
    "else 'MISMATCH',p) for p,h in sorted(f.items()) if not p.startswith('timestamps/') or os.path.isfile(p)]\""
)


def verify_text(dossier: Dossier, *, timestamps: bool = True) -> str:
    header = (
        f"Dossier / 材料编号: {dossier.number}\n"
        f"Seal / 封印 (sha256 of manifest.json): {dossier.seal}\n"
        f"dossier.pdf sha256: {dossier.pdf_sha256}\n\n"
    )
    manifest = json.loads(dossier.manifest) if dossier.manifest else {}
    if manifest.get("bundle"):
        # Bundles that carry verify.py (manifest format /4 on) lead with it.
        header += (
            "This file is not sealed: the PDF (its footer and appendix) prevails. / "
            "本文件未封印，以PDF（页脚与附录）为准。\n\n"
            "Check everything with one command (Python 3 only, no network) / 一条命令核验全部（只需 Python 3，无需联网）:\n"
            "  sha256sum verify.py         # first: must equal the verify.py SHA-256 printed in the PDF's appendix / "
            "先核对：应与PDF附录所印 verify.py 的 SHA-256 一致\n"
            "  python3 verify.py           # every line OK, the last ALL CHECKS PASSED / 每行 OK，最后一行“全部通过”\n\n"
            "Or by hand / 或手工核验:\n"
            "  sha256sum manifest.json     # must equal the seal printed on every page of the PDF / "
            "应与PDF每页所印封印一致\n"
            f"  {SEALED_FILES_CHECK}\n"
            "                              # every line must say OK / 每行都应显示 OK\n"
            "SHA256SUMS is not sealed: sha256sum -c SHA256SUMS alone proves nothing. / "
            "SHA256SUMS 未封印，仅凭 sha256sum -c 不能证明文件未被替换。\n\n"
        )
        steps = texts()["verify_sealed"]["text"]
    else:
        header += (
            "Quick check / 快速核验:\n"
            "  sha256sum -c SHA256SUMS\n"
            "  sha256sum manifest.json     # must equal the seal / 应与封印一致\n\n"
        )
        steps = texts()["verify"]["text"]
    return header + steps.strip() + "\n" + (TIMESTAMPS_TEXT if timestamps else "")


# How to check the trusted timestamps offline: openssl for the tokens, a few lines of python3 for the
# inclusion proofs (the same for every bundle, so VERIFY.txt can be compared with what was written).
TIMESTAMPS_TEXT = """
Trusted timestamps / 可信时间戳
If the bundle has a timestamps/ folder, each evidence file listed there was timestamped by an RFC 3161
time-stamp authority (TSA) soon after it arrived. Files that arrived together share one token: the TSA
signed the root of a Merkle tree over their SHA-256 hashes (timestamps/batch-<n>.root), and each file's
timestamps/<file>.proof.json leads from its hash to that root. Without this folder the evidence was not
independently timestamped.
若证据包中有 timestamps/ 目录，其中列出的证据文件在到达后不久即由 RFC 3161 时间戳服务机构（TSA）加盖可信时间戳：
同一批到达的文件共用一个时间戳令牌，TSA 签署的是这些文件 SHA-256 所构成的默克尔树的根（timestamps/batch-<n>.root），
每个文件的 timestamps/<文件名>.proof.json 给出从该文件哈希到根的路径。没有该目录的，证据未经独立的可信时间戳。

1. Each token is the TSA's, over its root (prints "Verification: OK") / 核验每个令牌（应显示 Verification: OK）:
for t in timestamps/batch-*.tsr; do b="${t%.tsr}"
  openssl ts -verify -digest "$(cat "$b.root")" -in "$t" -CAfile "$b-chain.pem"
  openssl ts -reply -in "$t" -text | grep "Time stamp"    # the time the TSA vouches for / 时间（UTC）
done
2. Each file leads to its token's root (prints OK per file) / 核验每个文件在树中（每个文件应显示 OK）:
python3 - <<'EOF'
import glob, hashlib, json
h = lambda b: hashlib.sha256(b).digest()
for name in sorted(glob.glob("timestamps/*.proof.json")):
    p = json.load(open(name, encoding="utf-8"))
    x = h(b"\\x00" + h(open(p["file"], "rb").read()))
    for side, s in p["path"]:
        x = h(b"\\x01" + bytes.fromhex(s) + x) if side == "L" else h(b"\\x01" + x + bytes.fromhex(s))
    ok = x.hex() == p["root"] == open(p["token"][:-4] + ".root").read().strip()
    print("OK" if ok else "MISMATCH", p["file"], p["time"])
EOF
The TSA's certificate chain (batch-<n>-chain.pem) is as the TSA sent it; compare its root with the
certificate the TSA publishes. / batch-<n>-chain.pem 为 TSA 提供的证书链，请与该机构公布的根证书比对。
"""


class BundleIncomplete(Exception):
    """A sealed file of an issued dossier can no longer be read: no partial bundle is written."""


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
        rows = EvidenceFile.all_objects.in_bulk([entry["id"] for entry in manifest["evidence"]])
        for entry in manifest["evidence"]:
            row = rows.get(entry["id"])
            if row is None:
                # Never a bundle that silently lacks a sealed file: it would fail its own check.
                raise BundleIncomplete(
                    f"dossier {dossier.number}: {entry['bundle_path']} (evidence id {entry['id']}) is no longer "
                    "stored; the bundle cannot be complete"
                )
            with (
                open_evidence(row) as source,
                bundle.open(
                    zipfile.ZipInfo(entry["bundle_path"], date_time=(2000, 1, 1, 0, 0, 0)),
                    "w",
                    force_zip64=True,
                ) as sink,
            ):
                while block := source.read(1 << 20):
                    sink.write(block)
            sums.append((entry["sha256"], entry["bundle_path"]))
        # Derived from the sealed manifest alone, so their hashes are fixed by the seal too.
        for path, data in derived_files(manifest).items():
            bundle.writestr(path, data)
            sums.append((hashlib.sha256(data).hexdigest(), path))
        legacy_checker = unsealed_verify_py(manifest)
        if legacy_checker is not None:
            # Every bundle carries verify.py; an older dossier's manifest does not seal it.
            bundle.writestr("verify.py", legacy_checker)
            sums.append((hashlib.sha256(legacy_checker).hexdigest(), "verify.py"))
        # Trusted timestamps of the files stamped so far: tokens, roots, TSA chains, inclusion proofs.
        for path, data in stamp_files(manifest["evidence"]).files.items():
            bundle.writestr(path, data)
            sums.append((hashlib.sha256(data).hexdigest(), path))
        bundle.writestr("SHA256SUMS", "".join(f"{digest}  {path}\n" for digest, path in sums))
        # The text written at issue, so every download of an issued dossier says the same.
        bundle.writestr("VERIFY.txt", dossier.verify_text if dossier.verify_text else verify_text(dossier))
    return missing


def bundle_file(dossier: Dossier):
    """The bundle in a temporary file (spooled to disk when large), positioned at the start."""
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    write_bundle(dossier, spool)
    spool.seek(0)
    return spool


# --- checking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyLimits:
    """What checking one upload may cost. Each field is read from the setting named in SETTINGS."""

    pdf_bytes: int = 50 * MiB  # dossier.pdf, uploaded alone or inside a bundle
    manifest_bytes: int = 32 * MiB  # manifest.json, in the bundle or embedded in the PDF
    text_bytes: int = 4 * MiB  # SHA256SUMS and VERIFY.txt
    unpacked_bytes: int = 1024 * MiB  # every member of a bundle together, as declared and as read
    entries: int = 10_000  # members of a bundle
    ratio: int = 100  # unpacked / compressed size of one member (over 1 MiB)

    SETTINGS = {
        "pdf_bytes": "VERIFY_MAX_PDF_BYTES",
        "manifest_bytes": "VERIFY_MAX_MANIFEST_BYTES",
        "text_bytes": "VERIFY_MAX_TEXT_BYTES",
        "unpacked_bytes": "VERIFY_MAX_UNPACKED_BYTES",
        "entries": "VERIFY_MAX_ENTRIES",
        "ratio": "VERIFY_MAX_RATIO",
    }

    @classmethod
    def from_settings(cls) -> VerifyLimits:
        return cls(**{f.name: int(getattr(settings, cls.SETTINGS[f.name], f.default)) for f in fields(cls)})

    def member_cap(self, name: str) -> int | None:
        """The most one member may unpack to, by its name; evidence files share the total only."""
        if name == "dossier.pdf":
            return self.pdf_bytes
        if name == "manifest.json":
            return self.manifest_bytes
        if name in UNSEALED_FILES or name in DERIVED_FILES or name.startswith(STAMPS_FOLDER):
            return self.text_bytes
        return None

    def pdf_decode_limits(self) -> DecodeLimits:
        """pyHanko's limits on inflating streams inside a PDF: no stream beyond the manifest's limit,
        and all of them together no more than that twice over (or the PDF's own size)."""
        from pyhanko.pdf_utils.decode_limits import (  # noqa: PLC0415
            DecodeLimits,
            DocumentDecodeBudget,
            StreamDecodeLimits,
        )

        return DecodeLimits(
            per_stream=StreamDecodeLimits(max_output_size=self.manifest_bytes),
            document_budget=DocumentDecodeBudget(base_allowance=2 * self.manifest_bytes, max_ratio=1),
        )


class VerificationRefused(Exception):
    """The upload would cost more to check than any real dossier or bundle: it is not read further.
    `code` and `status` are the API's error code and HTTP status."""

    def __init__(self, message: str, *, code: str = "too_large_to_check", status: int = 413):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def _size(limit: int) -> str:
    return str(filesizeformat(limit))


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
        known = (
            {"seal": self.dossier.seal, "created_at": self.dossier.created_at.isoformat()}
            if self.dossier
            else None
        )
        return {"valid": self.valid, "dossier": known, "problems": list(self.problems)}


def _issued(seal: str) -> Dossier | IssuedSeal | None:
    """The dossier this server issued with this seal; after its owner deleted the case or the
    account, the record kept of it (IssuedSeal: seal, number, PDF hash, dates); after a restore
    that forgot it, the record kept in the evidence store (complaints.integrity.issued_by_seal)."""
    return issued_by_seal(seal)


def _file_size(handle: IO[bytes]) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size


def _inflates_too_much(name: str, limits: VerifyLimits) -> VerificationRefused:
    return VerificationRefused(
        _(
            "%(name)s: a compressed stream inside it inflates past %(limit)s, the most a stream of a dossier "
            "(its manifest included) may hold; it was not read further."
        )
        % {"name": name, "limit": _size(limits.manifest_bytes)}
    )


def verify_pdf(handle: IO[bytes], limits: VerifyLimits, name: str = "dossier.pdf") -> Verdict:
    """Check a dossier PDF held in a seekable file (its size already within limits): one parse
    serves the signature and the embedded manifest. The verdict's seal is set when the PDF embeds a
    manifest (the manifest itself is not kept: its hash is all that is compared)."""
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError  # noqa: PLC0415
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415

    verdict = Verdict()
    actual, _size_read = sha256_of(handle)
    try:
        reader = PdfFileReader(handle, strict=False, decode_limits=limits.pdf_decode_limits())
    except PdfDecodeLimitError:
        raise _inflates_too_much(name, limits) from None
    except Exception as exc:
        verdict.problems.append(
            f"{name}: signature broken: the PDF cannot be read ({exc.__class__.__name__})"
        )
        verdict.problems.append(f"{name}: the manifest cannot be read ({exc.__class__.__name__})")
        return verdict
    signature = check_signature(reader)
    if not signature.ok:
        if getattr(signature, "no_key", False):
            verdict.problems.append(f"{name}: signature not checked: {signature.problem}")
        else:
            verdict.problems.append(f"{name}: signature broken: {signature.problem}")
    try:
        manifest = embedded_manifest(reader)
    except PdfDecodeLimitError:
        raise _inflates_too_much(name, limits) from None
    except Exception as exc:
        manifest = None
        verdict.problems.append(f"{name}: the manifest cannot be read ({exc.__class__.__name__})")
    if manifest is not None and len(manifest) > limits.manifest_bytes:
        raise VerificationRefused(
            _("%(name)s: its embedded manifest.json is %(size)s; the limit for a manifest is %(limit)s.")
            % {"name": name, "size": _size(len(manifest)), "limit": _size(limits.manifest_bytes)}
        )
    if manifest is None:
        if not any("manifest" in p for p in verdict.problems):
            verdict.problems.append(f"{name}: no manifest.json attachment: not a dossier of this kind")
        return verdict
    verdict.seal = hashlib.sha256(manifest).hexdigest()
    verdict.dossier = _issued(verdict.seal)
    if verdict.dossier is None:
        verdict.problems.append(f"seal {verdict.seal} was never issued by this server")
    elif actual != verdict.dossier.pdf_sha256:
        verdict.problems.append(
            f"{name}: expected sha256 {verdict.dossier.pdf_sha256} (as issued), actual {actual}"
        )
    return verdict


# --- the zip, sized up before it is parsed (evidence.archives, the guard every zip shares) --------


def _zip_limits(limits: VerifyLimits) -> ZipLimits:
    return ZipLimits(
        entries=limits.entries,
        unpacked_bytes=limits.unpacked_bytes,
        ratio=limits.ratio,
        member_cap=limits.member_cap,
    )


def _size_up_directory(handle: IO[bytes], limits: VerifyLimits) -> None:
    """Refuse a zip whose table of contents is too big to parse, before zipfile reads it."""
    try:
        refuse_crowded_directory(handle, entries=limits.entries)
    except ArchiveRefused as exc:
        raise VerificationRefused(exc.message) from None


UNSEALED_FILES = ("SHA256SUMS", "VERIFY.txt")
# Files derived from the sealed manifest: their hashes follow from the seal.
DERIVED_FILES = ("calls.csv", "summary.txt", "verify.py")
SUMS_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
# Reading a damaged or crafted member: bad CRC or header, encrypted, unknown compression, truncated.
READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    OSError,
)


def _unsafe(name: str) -> bool:
    """A name an unzip tool could place outside the folder it unzips into, or elsewhere than the
    verifier looks: absolute, a drive, a backslash, '.', '..' or empty components."""
    if name.startswith("/") or "\\" in name or "\x00" in name or re.match(r"[A-Za-z]:", name):
        return True
    return any(part in ("", ".", "..") for part in name.rstrip("/").split("/"))


class _Budget:
    """The bytes a bundle may unpack to, spent as members are actually read."""

    def __init__(self, limit: int):
        self.limit, self.spent = limit, 0

    def spend(self, amount: int) -> None:
        self.spent += amount
        if self.spent > self.limit:
            raise VerificationRefused(
                _("The bundle unpacks to more than %(limit)s, the most a bundle may hold; reading stopped.")
                % {"limit": _size(self.limit)}
            )


class _Member:
    """A zip member read in blocks, stopped as soon as it passes its own cap or the bundle's total
    (whatever its header declared)."""

    def __init__(self, stream, name: str, cap: int | None, budget: _Budget):
        self.stream, self.name, self.cap, self.budget, self.read_bytes = stream, name, cap, budget, 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(BLOCK), b""))
        block = self.stream.read(min(size, BLOCK))
        self.read_bytes += len(block)
        if self.cap is not None and self.read_bytes > self.cap:
            raise VerificationRefused(
                _("%(name)s unpacks to more than %(limit)s, the limit for that file; reading stopped.")
                % {"name": self.name, "limit": _size(self.cap)}
            )
        self.budget.spend(len(block))
        return block


def _refuse_oversized(members: list[zipfile.ZipInfo], limits: VerifyLimits) -> None:
    """Check what every member declares before any is inflated."""
    try:
        refuse_oversized_members(members, _zip_limits(limits))
    except ArchiveRefused as exc:
        raise VerificationRefused(exc.message) from None


def verify_zip(handle: IO[bytes], limits: VerifyLimits | None = None) -> Verdict:
    limits = limits or VerifyLimits.from_settings()
    # Reading back as much as was handed in is never amplification: a stored (uncompressed) bundle
    # larger than VERIFY_MAX_UNPACKED_BYTES, checked with verify_bundle, is read in full.
    limits = replace(limits, unpacked_bytes=max(limits.unpacked_bytes, _file_size(handle)))
    _size_up_directory(handle, limits)
    try:
        bundle = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, OSError):
        return Verdict(problems=["the file is neither a dossier PDF nor a readable bundle zip"])
    with bundle:
        return _verify_bundle(bundle, limits)


def _verify_bundle(bundle: zipfile.ZipFile, limits: VerifyLimits) -> Verdict:
    every = bundle.infolist()
    if len(every) > limits.entries:
        raise VerificationRefused(too_many_entries(limits.entries).message)
    members = [info for info in every if not info.is_dir()]
    _refuse_oversized(members, limits)
    budget = _Budget(limits.unpacked_bytes)

    # Structure first: names no unzip tool should be trusted with, and names given twice (each tool
    # picks its own copy, so only one of them can be the sealed one).
    structural: list[str] = []
    unsafe = {info.filename for info in members if _unsafe(info.filename)}
    for name in dict.fromkeys(info.filename for info in members if info.filename in unsafe):
        structural.append(
            _("unsafe path in bundle: %(path)s (absolute, or leaving the bundle's folder); it was not read")
            % {"path": name}
        )
    for name, count in Counter(info.filename for info in members).items():
        if count > 1 and name not in unsafe:
            structural.append(
                _("%(path)s: appears %(count)d times in the bundle; only one copy can be the sealed one")
                % {"path": name, "count": count}
            )
    entries = {info.filename: info for info in members if info.filename not in unsafe}

    def unreadable(name: str, exc: Exception) -> str:
        return _("%(path)s: cannot be read from the zip (%(error)s)") % {
            "path": name,
            "error": exc.__class__.__name__,
        }

    if "dossier.pdf" not in entries:
        verdict = Verdict(problems=["dossier.pdf: missing from the bundle"])
    else:
        # The PDF goes to a temporary file (in memory while small) and is parsed from there once.
        with tempfile.SpooledTemporaryFile(max_size=PDF_SPOOL_BYTES) as spool:
            try:
                with bundle.open(entries["dossier.pdf"]) as stream:
                    shutil.copyfileobj(_Member(stream, "dossier.pdf", limits.pdf_bytes, budget), spool, BLOCK)
            except READ_ERRORS as exc:
                verdict = Verdict(problems=[unreadable("dossier.pdf", exc)])
            else:
                verdict = verify_pdf(spool, limits)
    verdict.problems[:0] = structural
    sealed = verdict.seal  # sha256 of the manifest embedded in dossier.pdf, when there is one

    def read(name: str, *, digest: bool = False) -> bytes | str | None:
        """A small member's bytes (or with `digest`, its sha256 as it streams), or None (the problem
        noted) when it cannot be read."""
        try:
            with bundle.open(entries[name]) as stream:
                source = _Member(stream, name, limits.member_cap(name), budget)
                return sha256_of(source, rewind=False)[0] if digest else source.read()
        except READ_ERRORS as exc:
            verdict.problems.append(unreadable(name, exc))
            return None

    if "manifest.json" not in entries:
        verdict.problems.append("manifest.json: missing from the bundle")
    else:
        listed_hash = read("manifest.json", digest=True)
        if listed_hash is not None:
            if sealed and listed_hash != sealed:
                verdict.problems.append(
                    f"manifest.json: altered (sha256 {listed_hash}; the manifest sealed in "
                    f"dossier.pdf has sha256 {verdict.seal})"
                )
            elif not sealed:
                verdict.seal = listed_hash
                verdict.dossier = verdict.dossier or _issued(listed_hash)
                if verdict.dossier is None:
                    verdict.problems.append(f"seal {listed_hash} was never issued by this server")

    dossier = verdict.dossier
    if dossier is None:
        # Nothing this server trusts says what the other files must be; an unsigned manifest is not
        # parsed (it could be built to exhaust memory), and VERIFY.txt is informative at most.
        others = [name for name in entries if name not in ("dossier.pdf", "manifest.json")]
        if others:
            verdict.problems.append(
                _(
                    "The evidence files, SHA256SUMS and VERIFY.txt were not checked: this server "
                    "did not issue the dossier, so nothing it trusts says what they must contain, "
                    "and VERIFY.txt is informative only."
                )
            )
        return verdict

    # The manifest as issued (the seal proves the bundle's sealed one is identical) names the files.
    sealed_hashes = {"dossier.pdf": dossier.pdf_sha256, "manifest.json": dossier.seal}
    if isinstance(dossier, Dossier):
        issued = json.loads(dossier.manifest)
    else:
        # Issued here, its owner since gone (IssuedSeal keeps no manifest): the bundle's own
        # manifest.json is the issued one exactly when its sha256 is the issued seal.
        kept = read("manifest.json") if "manifest.json" in entries else None
        if kept is None or hashlib.sha256(kept).hexdigest() != dossier.seal:
            verdict.problems.append(
                "manifest.json: missing or altered, and this server no longer keeps the issued one; "
                "the other files were not checked"
            )
            return verdict
        issued = json.loads(kept)
    derived = {path: hashlib.sha256(data).hexdigest() for path, data in derived_files(issued).items()}
    if "verify.py" not in derived and "verify.py" in entries:
        # An older dossier's bundle carries an unsealed verify.py: it must be one this software wrote.
        checker = read("verify.py", digest=True)
        if checker is not None and checker in known_verify_py():
            sealed_hashes["verify.py"] = checker
        elif checker is not None:
            verdict.problems.append(
                _("verify.py: not a checker this server ever wrote (sha256 %(sha)s); do not run it")
                % {"sha": checker}
            )
            sealed_hashes["verify.py"] = checker
    # From format /4 the manifest seals every non-evidence file it was issued with (bundle_files.py).
    for path, expected in sealed_bundle_files(issued).items():
        if path not in derived and path in entries and not path.startswith(STAMPS_FOLDER):
            derived[path] = expected
    for path, expected in derived.items():
        sealed_hashes[path] = expected
        if path in entries:
            data = read(path)
            if data is not None and hashlib.sha256(data).hexdigest() != expected:
                verdict.problems.append(
                    f"{path}: differs from the one derived from the sealed manifest (expected sha256 {expected})"
                )
    actual_hashes: dict[str, str] = {}
    for entry in issued.get("evidence", []):
        path, expected = entry.get("bundle_path", ""), entry.get("sha256")
        sealed_hashes[path] = expected
        if path not in entries:
            verdict.problems.append(f"{path}: missing (expected sha256 {expected})")
            continue
        try:
            with bundle.open(entries[path]) as stream:
                actual, _read = sha256_of(_Member(stream, path, None, budget), rewind=False)
        except READ_ERRORS as exc:
            verdict.problems.append(unreadable(path, exc))
            continue
        verdict.files_checked += 1
        actual_hashes[path] = actual
        if actual != expected:
            verdict.problems.append(f"{path}: expected sha256 {expected}, actual {actual}")

    # Trusted timestamps: the files this server would write now (a bundle written before a stamp
    # arrived may lack it, unless the sealed manifest names the stamp), each token checked against
    # its root and the TSA chain kept for it, each proof against the file as found in the bundle.
    stamped = stamp_files(issued.get("evidence", []))
    for path, data in stamped.files.items():
        sealed_hashes[path] = hashlib.sha256(data).hexdigest()
    verdict.problems += check_stamp_files(
        stamped,
        present=set(entries),
        read=read,
        actual_sha256=actual_hashes,
        required={
            stamp_proof_path(entry["bundle_path"])
            for entry in issued.get("evidence", [])
            if entry.get("timestamp")
        },
    )

    for name in entries:
        if name not in sealed_hashes and name not in UNSEALED_FILES:
            verdict.problems.append(
                _("unexpected file in bundle: %(path)s (not in the sealed manifest)") % {"path": name}
            )
    if "SHA256SUMS" in entries:
        sums = read("SHA256SUMS")
        if sums is not None:
            _check_sums(
                sums,
                sealed_hashes,
                present=[name for name in entries if name in sealed_hashes],
                problems=verdict.problems,
            )
    if "VERIFY.txt" in entries:
        text = read("VERIFY.txt")
        if text is not None:
            verdict.problems += check_verify_txt(text, dossier=dossier, issued=issued, sealed=sealed_hashes)
    return verdict


HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
STATED_NUMBER = re.compile(r"材料编号:\s*(\S+)")


def _hashes_in(value) -> set[str]:
    if isinstance(value, str):
        return {match.lower() for match in HEX64.findall(value)}
    if isinstance(value, dict):
        return set().union(*(_hashes_in(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_hashes_in(item) for item in value)) if value else set()
    return set()


def check_verify_txt(
    data: bytes, *, dossier: Dossier | IssuedSeal, issued: dict, sealed: dict[str, str]
) -> list[str]:
    """VERIFY.txt is not sealed, and its wording changes from release to release. It is never
    compared with today's text. A dossier issued since the text was kept at issue must carry exactly
    that text (its sha256 is recorded with the issued seal). One issued before that is checked
    against its own sealed manifest: what it states of the dossier (number, seal, the PDF's sha256,
    every other SHA-256 it quotes) must be the sealed values; its instructions are not part of the
    verdict, and the verify page and verify.py remain the authority."""
    recorded = getattr(dossier, "verify_text_sha256", None) or (
        IssuedSeal.objects.filter(seal=dossier.seal).values_list("verify_text_sha256", flat=True).first()
    )
    number = (issued.get("dossier") or {}).get("number") or dossier.number
    differs = _(
        "VERIFY.txt: differs from the one this server wrote for dossier %(number)s; "
        "it is not sealed, so do not follow its instructions"
    ) % {"number": number}
    if recorded:
        return [] if hashlib.sha256(data).hexdigest() == recorded else [differs]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [differs]
    stated = _hashes_in(text)
    known = {dossier.seal, dossier.pdf_sha256, *sealed.values()} | _hashes_in(issued)
    numbers = set(STATED_NUMBER.findall(text))
    if dossier.seal not in stated or stated - known or numbers - {number}:
        return [differs]
    return []


def _check_sums(data: bytes, sealed: dict[str, str], *, present: list[str], problems: list[str]) -> None:
    """Every line of SHA256SUMS must give a sealed file its sealed hash, and every sealed file in the
    bundle must have its line: `sha256sum -c` then checks exactly what the signature covers."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(_("SHA256SUMS: not UTF-8 text"))
        return
    listed: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        match = SUMS_LINE.fullmatch(line)
        if match is None:
            problems.append(_("SHA256SUMS line %(number)d is not “<sha256>  <file>”") % {"number": number})
            continue
        digest, path = match.group(1).lower(), match.group(2)
        if path in listed:
            problems.append(
                _("SHA256SUMS line %(number)d lists %(path)s a second time")
                % {"number": number, "path": path}
            )
            continue
        listed.add(path)
        if path not in sealed:
            problems.append(
                _("SHA256SUMS line %(number)d names %(path)s, which is not in the sealed manifest")
                % {"number": number, "path": path}
            )
        elif digest != sealed[path]:
            problems.append(
                _(
                    "SHA256SUMS line %(number)d gives %(path)s sha256 %(listed)s; the sealed sha256 "
                    "is %(sealed)s"
                )
                % {"number": number, "path": path, "listed": digest, "sealed": sealed[path]}
            )
    for path in present:
        if path not in listed:
            problems.append(_("SHA256SUMS: no line for %(path)s, which is in the bundle") % {"path": path})


def verify_upload(handle: IO[bytes], limits: VerifyLimits | None = None) -> Verdict:
    """Check a dossier PDF or bundle zip, from a seekable file object positioned anywhere.
    Raises VerificationRefused when the upload is past a limit in VerifyLimits."""
    limits = limits or VerifyLimits.from_settings()
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    if head.startswith(b"%PDF-"):
        size = _file_size(handle)
        if size > limits.pdf_bytes:
            raise VerificationRefused(
                _("The PDF is %(size)s; the limit for a dossier PDF is %(limit)s. It was not read.")
                % {"size": _size(size), "limit": _size(limits.pdf_bytes)}
            )
        return verify_pdf(handle, limits)
    if head.startswith(b"PK\x03\x04"):
        return verify_zip(handle, limits)
    return Verdict(problems=["the file is neither a dossier PDF nor a bundle zip"])
