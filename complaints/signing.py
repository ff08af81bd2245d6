"""The installation's signing key and certificate, PAdES signatures and their validation.

The key and a self-signed certificate are created on first use in DOSSIER_SIGNING_DIR (inside the
private data folder, outside the repository). When DOSSIER_TSA_URL is set, each signature carries
an RFC 3161 timestamp from that authority.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils import embed
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

_lock = threading.Lock()


def signing_dir() -> Path:
    return Path(settings.DOSSIER_SIGNING_DIR)


def ensure_signing_identity() -> tuple[Path, Path]:
    """(key path, certificate path), creating both on first use."""

    folder = signing_dir()
    key_path, cert_path = folder / "dossier-signing-key.pem", folder / "dossier-signing-cert.pem"
    with _lock:
        if key_path.exists() and cert_path.exists():
            return key_path, cert_path
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return key_path, cert_path


def signer_certificate():

    _key, cert_path = ensure_signing_identity()
    return load_cert_from_pemder(str(cert_path))


def _timestamper():
    url = getattr(settings, "DOSSIER_TSA_URL", "")
    if not url:
        return None

    return RequestsHTTPTimeStamper(url, timeout=30)


def embed_and_sign(pdf: bytes, *, manifest: bytes, description: str) -> tuple[bytes, bool]:
    """Embed manifest.json as an attachment, then sign the whole PDF (PAdES). Returns the bytes and
    whether a timestamp was added."""

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

    @property
    def ok(self) -> bool:
        return self.present and self.intact and self.trusted and self.covers_whole_file


def check_signature(pdf: bytes | PdfFileReader) -> SignatureCheck:
    """Validate the dossier signature against this installation's certificate. Given a reader,
    that parse is reused."""

    try:
        reader = pdf if isinstance(pdf, PdfFileReader) else PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:
        return SignatureCheck(
            False, False, False, False, False, f"the PDF cannot be read ({exc.__class__.__name__})"
        )
    if not signatures:
        return SignatureCheck(False, False, False, False, False, "the PDF carries no signature")
    try:
        context = ValidationContext(trust_roots=[signer_certificate()], allow_fetching=False)
        status = validate_pdf_signature(signatures[-1], context)
    except Exception as exc:
        return SignatureCheck(True, False, False, False, False, f"the signature cannot be validated ({exc})")
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problem = ""
    if not status.intact:
        problem = "the signed bytes were changed"
    elif not status.trusted:
        problem = "the signature was not made by this installation's key"
    elif not whole:
        problem = "content was added after signing"
    return SignatureCheck(
        True, bool(status.intact), bool(status.trusted), whole, status.timestamp_validity is not None, problem
    )
