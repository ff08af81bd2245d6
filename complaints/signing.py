"""The installation's signing key and certificate, PAdES signatures and their validation.

The key and a self-signed certificate are created on first use in DOSSIER_SIGNING_DIR (inside the
private data folder, outside the repository) by building a dossier; checking one never creates a
key. When DOSSIER_TSA_URL is set, each signature carries an RFC 3161 timestamp from that authority.

`rotate_signing_identity` (manage.py rotate_signing_key) replaces the key: the old certificate moves
to DOSSIER_SIGNING_DIR/retired/<sha256 fingerprint>-cert.pem and stays trusted, so dossiers signed
before still verify, and the old private key is deleted (verification needs only the certificate; a
retired key kept on disk could still sign dossiers that verify). When the old key may have leaked,
its certificate goes to revoked/ instead and is no longer trusted.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

# pyHanko and cryptography are imported by the functions that use them, not with this module: the
# paths below are wanted by every web process (health, the verify page), the machinery only when a
# key is made or read, or a dossier signed or checked.
if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

_lock = threading.Lock()

KEY_FILE = "dossier-signing-key.pem"
CERT_FILE = "dossier-signing-cert.pem"
RETIRED_DIR = "retired"  # certificates of earlier keys: still trusted
REVOKED_DIR = "revoked"  # certificates of keys that may have leaked: kept for the record, not trusted
RETIRED_SUFFIX = "-cert.pem"


def signing_dir() -> Path:
    return Path(settings.DOSSIER_SIGNING_DIR)


def no_key_message() -> str:
    return (
        f"this installation has no signing key (DOSSIER_SIGNING_DIR {signing_dir()} holds no "
        f"{CERT_FILE} and no {RETIRED_DIR}/ certificate): its dossiers cannot be checked here"
    )


def ensure_signing_identity() -> tuple[Path, Path]:
    """(key path, certificate path), creating both on first use (building a dossier only)."""

    folder = signing_dir()
    key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
    with _lock:
        if key_path.exists() and cert_path.exists():
            return key_path, cert_path
        _create_identity(folder)
        return key_path, cert_path


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by this user only, complete or not at all (temporary name, rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _create_identity(folder: Path) -> None:
    """A new key and self-signed certificate in `folder`, replacing any there (callers hold _lock)."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, settings.DOSSIER_SIGNER_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Collection Evidence Keeper"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    _write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))


def fingerprint_of(cert_path: Path) -> str:
    """SHA-256 fingerprint (hex) of a PEM certificate: the one printed in every dossier's appendix."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return certificate.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class TrustedKey:
    """A certificate this installation trusts for checking dossiers: the current one or a retired one."""

    path: Path
    fingerprint: str
    retired: bool

    def describe(self) -> str:
        which = "a retired key" if self.retired else "the current key"
        return f"{which} (sha256 fingerprint {self.fingerprint})"


def _trusted_paths() -> list[tuple[Path, bool]]:
    """(certificate file, retired) for the current certificate and every retired one."""
    folder = signing_dir()
    found = [(folder / CERT_FILE, False)] if (folder / CERT_FILE).is_file() else []
    retired = folder / RETIRED_DIR
    if retired.is_dir():
        found += [(path, True) for path in sorted(retired.glob(f"*{RETIRED_SUFFIX}")) if path.is_file()]
    return found


def has_signing_certificate() -> bool:
    """Whether this installation can check a dossier's signature at all. Never creates a key."""
    return bool(_trusted_paths())


def trusted_keys() -> list[TrustedKey]:
    """The current certificate (when there is one) and every retired one. Never creates a key."""
    return [TrustedKey(path, fingerprint_of(path), retired) for path, retired in _trusted_paths()]


@dataclass(frozen=True)
class Rotation:
    old_fingerprint: str | None  # None: there was no key before
    new_fingerprint: str
    kept_at: Path | None  # where the old certificate went (retired/ or revoked/)


def rotate_signing_identity(*, compromised: bool = False) -> Rotation:
    """Replace the signing key. The old certificate moves to retired/<fingerprint>-cert.pem (still
    trusted, so earlier dossiers verify) or, when the key may have leaked (`compromised`), to
    revoked/ (no longer trusted: earlier dossiers must then be reissued). The old private key is
    deleted either way: nothing needs it to check a signature, and kept it could sign again."""
    folder = signing_dir()
    key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
    with _lock:
        old_fingerprint, kept_at = None, None
        if cert_path.is_file():
            old_fingerprint = fingerprint_of(cert_path)
            target = folder / (REVOKED_DIR if compromised else RETIRED_DIR)
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            kept_at = target / f"{old_fingerprint}{RETIRED_SUFFIX}"
            os.replace(cert_path, kept_at)
        key_path.unlink(missing_ok=True)
        _create_identity(folder)
        return Rotation(old_fingerprint, fingerprint_of(cert_path), kept_at)


def _timestamper():
    # DOSSIER_TSA_URL, else the first of TSA_URLS: dossiers are stamped by the TSAs evidence is.
    url = getattr(settings, "DOSSIER_TSA_URL", "") or (getattr(settings, "TSA_URLS", None) or [""])[0]
    if not url:
        return None
    from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper  # noqa: PLC0415

    return RequestsHTTPTimeStamper(url, timeout=30)


def embed_and_sign(pdf: bytes, *, manifest: bytes, description: str) -> tuple[bytes, bool]:
    """Embed manifest.json as an attachment, then sign the whole PDF (PAdES). Returns the bytes and
    whether a timestamp was added."""
    from pyhanko.pdf_utils import embed  # noqa: PLC0415
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: PLC0415
    from pyhanko.sign import fields, signers  # noqa: PLC0415

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    embed.embed_file(
        writer,
        embed.FileSpec(
            file_spec_string="manifest.json",
            file_name="manifest.json",
            description=description,
            embedded_data=embed.EmbeddedFileObject.from_file_data(
                writer, data=manifest, mime_type="application/json"
            ),
        ),
    )
    attached = io.BytesIO()
    writer.write(attached)

    key_path, cert_path = ensure_signing_identity()
    signer = signers.SimpleSigner.load(str(key_path), str(cert_path), key_passphrase=None)
    timestamper = _timestamper()
    metadata = signers.PdfSignatureMetadata(
        field_name="DossierSeal",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason="Collection evidence dossier",
        location="",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(attached.getvalue()))
    signed = signers.sign_pdf(writer, metadata, signer=signer, timestamper=timestamper)
    return signed.getvalue(), timestamper is not None


def embedded_manifest(pdf: bytes | PdfFileReader) -> bytes | None:
    """The bytes of the manifest.json attachment, or None. Given a reader, that parse is reused."""
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415

    reader = pdf if isinstance(pdf, PdfFileReader) else PdfFileReader(io.BytesIO(pdf), strict=False)
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    for position in range(0, len(names) - 1, 2):
        if str(names[position]) == "manifest.json":
            spec = names[position + 1].get_object()
            return spec["/EF"]["/F"].get_object().data
    return None


@dataclass
class SignatureCheck:
    present: bool
    intact: bool
    trusted: bool
    covers_whole_file: bool
    timestamped: bool
    problem: str = ""
    signed_by: TrustedKey | None = None  # which of this installation's keys signed, when one did
    no_key: bool = False  # this installation has no certificate to check against

    @property
    def ok(self) -> bool:
        return self.present and self.intact and self.trusted and self.covers_whole_file


def check_signature(pdf: bytes | PdfFileReader) -> SignatureCheck:
    """Validate the dossier signature against this installation's certificate. Given a reader,
    that parse is reused."""
    from pyhanko.keys import load_cert_from_pemder  # noqa: PLC0415
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415
    from pyhanko.sign.validation import validate_pdf_signature  # noqa: PLC0415
    from pyhanko.sign.validation.status import SignatureCoverageLevel  # noqa: PLC0415
    from pyhanko_certvalidator import ValidationContext  # noqa: PLC0415

    try:
        reader = pdf if isinstance(pdf, PdfFileReader) else PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:
        return SignatureCheck(
            False, False, False, False, False, f"the PDF cannot be read ({exc.__class__.__name__})"
        )
    if not signatures:
        return SignatureCheck(False, False, False, False, False, "the PDF carries no signature")
    if not has_signing_certificate():
        return SignatureCheck(True, False, False, False, False, no_key_message(), no_key=True)
    try:
        keys = trusted_keys()
        roots = [load_cert_from_pemder(str(key.path)) for key in keys]
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = validate_pdf_signature(signatures[-1], context)
    except Exception as exc:
        return SignatureCheck(True, False, False, False, False, f"the signature cannot be validated ({exc})")
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    signed_by = None
    if status.trusted:
        used = hashlib.sha256(status.signing_cert.dump()).hexdigest()
        signed_by = next((key for key in keys if key.fingerprint == used), None)
    problem = ""
    if not status.intact:
        problem = "the signed bytes were changed"
    elif not status.trusted:
        problem = "the signature was not made by this installation's key (current or retired)"
    elif not whole:
        problem = "content was added after signing"
    return SignatureCheck(
        True,
        bool(status.intact),
        bool(status.trusted),
        whole,
        status.timestamp_validity is not None,
        problem,
        signed_by=signed_by,
    )
