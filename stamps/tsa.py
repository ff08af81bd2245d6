"""An RFC 3161 client: ask the configured TSAs in order for a token over a digest, and check tokens.

Requests have short timeouts (TSA_TIMEOUT_SECONDS): a TSA that hangs delays stamping, never an
upload, and never holds a worker for long. A token is checked before it is kept: the TSA granted it,
its message imprint is the digest asked for, its nonce is ours, its signature is intact, and its
signer's certificate chains to a CA we trust: one of TSA_CA_FILE, or the system's trust store when
TSA_CA_FILE is unset. A token signed by anyone else is refused (its batch stays pending with the
reason), so a TSA of someone's own making never passes as a trusted timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from asn1crypto import pem, tsp
from asn1crypto import x509 as asn1_x509
from django.conf import settings

CONTENT_TYPE = "application/timestamp-query"


def tsa_urls() -> list[str]:
    """TSA_URLS (tried in order), or DOSSIER_TSA_URL alone when only that is set."""
    urls = [url for url in getattr(settings, "TSA_URLS", []) if url]
    if not urls and getattr(settings, "DOSSIER_TSA_URL", ""):
        urls = [settings.DOSSIER_TSA_URL]
    return urls


def configured() -> bool:
    return bool(tsa_urls())


class TokenError(Exception):
    """A token (or a TSA's answer) that cannot be used: the reason is the message."""


@dataclass(frozen=True)
class Stamp:
    url: str
    response: bytes  # DER of the TimeStampResp
    time: datetime
    chain_pem: str


def _certificates_in(data: bytes) -> list[asn1_x509.Certificate]:
    if not pem.detect(data):
        return [asn1_x509.Certificate.load(data)]
    return [
        asn1_x509.Certificate.load(der)
        for type_name, _headers, der in pem.unarmor(data, multiple=True)
        if type_name in ("CERTIFICATE", "TRUSTED CERTIFICATE")
    ]


def _extra_certificates() -> list[asn1_x509.Certificate]:
    """TSA_CA_FILE: CA certificates of the configured TSAs (PEM), for the chain kept with each token."""
    path = getattr(settings, "TSA_CA_FILE", "")
    if not path:
        return []
    return _certificates_in(Path(path).read_bytes())


@functools.cache
def _system_roots(path: str, _mtime: float) -> tuple[asn1_x509.Certificate, ...]:
    return tuple(_certificates_in(Path(path).read_bytes()))


def system_roots() -> list[asn1_x509.Certificate]:
    """The system's trust store (the CA bundle OpenSSL uses, else the one requests ships), read once
    per change of the file. Passed to pyHanko explicitly: its own fallback is deprecated."""
    path = ssl.get_default_verify_paths().cafile
    if not path or not Path(path).is_file():
        path = requests.certs.where()
    return list(_system_roots(path, Path(path).stat().st_mtime))


def trust_source() -> str:
    """Which CAs a TSA's certificate must chain to: "TSA_CA_FILE" or "system trust store"."""
    return "TSA_CA_FILE" if getattr(settings, "TSA_CA_FILE", "") else "system trust store"


PYHANKO_LOGGERS = ("pyhanko", "pyhanko_certvalidator")


class _OneLine(logging.Filter):
    """pyHanko logs every certificate path it cannot build at WARNING, with its traceback; a
    failure is one of our verdict's lines already, so its record keeps one line (the message and
    the exception), and records below `below` are dropped."""

    def __init__(self, below: int = logging.NOTSET):
        super().__init__()
        self.below = below

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] not in PYHANKO_LOGGERS:
            return True  # anyone else's traceback is left as it is
        if record.levelno < self.below:
            return False
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {exc.__class__.__name__}: {exc}"
            record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


@contextlib.contextmanager
def pyhanko_one_line(*, below: int = logging.NOTSET):
    """While it lasts, pyHanko's log records carry no traceback, and those below `below` are not
    written at all (verify_bundle: its verdict names every problem, so pyHanko's warnings about
    paths it tried would only stand before a correct verdict)."""
    one_line = _OneLine(below)
    # A logger's filter sees only records logged on that very logger, not its children's: pyHanko
    # logs on module loggers (pyhanko.sign.validation...), so the filter goes on every handler.
    handlers = set(logging.getLogger().handlers)
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)  # used while logging is not configured
    for name in PYHANKO_LOGGERS:
        handlers.update(logging.getLogger(name).handlers)
    for handler in handlers:
        handler.addFilter(one_line)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(one_line)


def signer_certificate(response: tsp.TimeStampResp) -> asn1_x509.Certificate | None:
    """The certificate that signed a token (matched by the signer's issuer and serial number)."""
    try:
        signed_data = response["time_stamp_token"]["content"]
        sid = signed_data["signer_infos"][0]["sid"]
        for certificate in carried_certificates(signed_data):
            if sid.name == "issuer_and_serial_number":
                wanted = sid.chosen
                if (
                    certificate.issuer == wanted["issuer"]
                    and certificate.serial_number == wanted["serial_number"].native
                ):
                    return certificate
            elif certificate.key_identifier == sid.chosen.native:
                return certificate
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    return None


def subject_name(certificate: asn1_x509.Certificate | None) -> str:
    """A certificate's subject as a reader knows it: its organisation and common name."""
    if certificate is None:
        return ""
    subject = certificate.subject.native
    parts = [subject.get("organization_name"), subject.get("common_name")]
    parts = [", ".join(part) if isinstance(part, list) else part for part in parts if part]
    seen = []
    for part in parts:
        if part not in seen:
            seen.append(part)
    return " / ".join(seen) or certificate.subject.human_friendly


def token_subject(token: bytes | None) -> str:
    """The subject of the certificate that signed a stored TimeStampResp ("" when unreadable)."""
    if not token:
        return ""
    try:
        return subject_name(signer_certificate(tsp.TimeStampResp.load(bytes(token))))
    except Exception:  # an unreadable token names no one; its checks report it
        return ""


def carried_certificates(signed_data) -> list[asn1_x509.Certificate]:
    """The certificates a token carries (a TSA asked with certReq sends at least its own)."""
    if not signed_data["certificates"].native:
        return []
    return [choice.chosen for choice in signed_data["certificates"] if choice.name == "certificate"]


def chain_pem(certificates: list[asn1_x509.Certificate]) -> str:
    seen, out = set(), []
    for certificate in certificates:
        der = certificate.dump()
        if der not in seen:
            seen.add(der)
            out.append(pem.armor("CERTIFICATE", der).decode("ascii"))
    return "".join(out)


def parse_response(data: bytes, *, digest: bytes) -> tuple[tsp.TimeStampResp, datetime]:
    """The response and its genTime, once its status, imprint and digest algorithm are right."""
    try:
        response = tsp.TimeStampResp.load(data)
        status = response["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise TokenError(f"the TSA did not grant a token (status {status})")
        token = response["time_stamp_token"]
        if token.native is None:
            raise TokenError("the answer holds no token")
        info = token["content"]["encap_content_info"]["content"].parsed
        imprint = info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
        moment = info["gen_time"].native
    except TokenError:
        raise
    except Exception as exc:
        raise TokenError(f"not an RFC 3161 answer ({exc.__class__.__name__})") from None
    if algorithm != "sha256" or hashed != digest:
        raise TokenError(f"the token's message imprint is not {digest.hex()}")
    return response, moment


def _validate(signed_data, *, digest: bytes, roots: list[asn1_x509.Certificate]) -> dict | str:
    """pyHanko's verdict on a token's SignedData with these trust roots, or the reason it could not
    be checked."""
    # pyHanko (and the cryptography stack under it) is loaded by the first token checked, not by
    # every web and worker process at start-up.
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data  # noqa: PLC0415
    from pyhanko_certvalidator import ValidationContext  # noqa: PLC0415

    try:
        with pyhanko_one_line():
            return asyncio.run(
                validate_tst_signed_data(
                    signed_data,
                    ValidationContext(
                        trust_roots=roots, other_certs=carried_certificates(signed_data), allow_fetching=False
                    ),
                    lambda _algorithm: digest,
                )
            )
    except Exception as exc:
        return f"the token's signature cannot be checked ({exc.__class__.__name__}: {exc})"


def check_signature(response: tsp.TimeStampResp, *, digest: bytes, trusted_pem: str | None = None) -> str:
    """ "" when the token's signature is intact (and, with `trusted_pem`, made by a certificate of
    that chain); else the reason."""
    signed_data = response["time_stamp_token"]["content"]
    if trusted_pem:
        roots = [
            asn1_x509.Certificate.load(der)
            for _type, _headers, der in pem.unarmor(trusted_pem.encode("ascii"), multiple=True)
        ]
    else:
        roots = carried_certificates(signed_data)
    status = _validate(signed_data, digest=digest, roots=roots)
    if isinstance(status, str):
        return status
    if not (status.get("intact") and status.get("valid")):
        return "the token's signature does not match its content"
    if trusted_pem and status.get("trust_problem_indic") is not None:
        return "the token was not signed by a certificate of the TSA chain kept for it"
    return ""


def check_trust(response: tsp.TimeStampResp, *, digest: bytes) -> str:
    """ "" when the token's signature is intact and its signer's certificate chains to a CA of
    TSA_CA_FILE (or, when that is unset, of the system's trust store); else the reason, naming the
    signer and the trust source."""
    signed_data = response["time_stamp_token"]["content"]
    from_file = bool(getattr(settings, "TSA_CA_FILE", ""))
    try:
        roots = _extra_certificates() if from_file else system_roots()
    except (OSError, ValueError) as exc:
        where = "TSA_CA_FILE" if from_file else "the system trust store"
        return f"{where} cannot be read ({exc.__class__.__name__}: {exc})"
    if not roots:
        return "TSA_CA_FILE holds no certificate" if from_file else "the system trust store is empty"
    status = _validate(signed_data, digest=digest, roots=roots)
    if isinstance(status, str):
        return status
    if not (status.get("intact") and status.get("valid")):
        return "the token's signature does not match its content"
    if status.get("trust_problem_indic") is not None:
        signer = subject_name(signer_certificate(response)) or "unknown"
        where = (
            f"a CA of TSA_CA_FILE ({settings.TSA_CA_FILE})"
            if from_file
            else "a CA of the system trust store (TSA_CA_FILE is unset)"
        )
        return f"the TSA's certificate ({signer}) does not chain to {where}: not a trusted timestamp"
    return ""


def request_stamp(digest: bytes, urls: list[str] | None = None) -> Stamp:
    """Ask each TSA in turn for a token over `digest` (SHA-256); the first good answer wins.
    Raises TokenError naming every TSA's failure when none answers."""
    urls = tsa_urls() if urls is None else urls
    if not urls:
        raise TokenError("no TSA is configured (TSA_URLS)")
    timeout = float(getattr(settings, "TSA_TIMEOUT_SECONDS", 10))
    failures = []
    for url in urls:
        nonce = secrets.randbits(63)
        query = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
                "nonce": nonce,
                "cert_req": True,
            }
        )
        try:
            answer = requests.post(
                url, data=query.dump(), headers={"Content-Type": CONTENT_TYPE}, timeout=(timeout, timeout)
            )
            answer.raise_for_status()
            response, moment = parse_response(answer.content, digest=digest)
            info = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
            if info["nonce"].native != nonce:
                raise TokenError("the token's nonce is not the one sent")
            problem = check_trust(response, digest=digest)
            if problem:
                raise TokenError(problem)
        except (requests.RequestException, TokenError) as exc:
            failures.append(f"{url}: {exc.__class__.__name__}: {exc}"[:500])
            continue
        carried = carried_certificates(response["time_stamp_token"]["content"])
        return Stamp(url, answer.content, moment, chain_pem(carried + _extra_certificates()))
    raise TokenError("; ".join(failures))
