"""An RFC 3161 client: ask the configured TSAs in order for a token over a digest, and check tokens.

Requests have short timeouts (TSA_TIMEOUT_SECONDS): a TSA that hangs delays stamping, never an
upload, and never holds a worker for long. A token is checked before it is kept: the TSA granted it,
its message imprint is the digest asked for, its nonce is ours, and its signature is intact.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from asn1crypto import pem, tsp
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

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


def _extra_certificates() -> list[asn1_x509.Certificate]:
    """TSA_CA_FILE: CA certificates of the configured TSAs (PEM), for the chain kept with each token."""
    path = getattr(settings, "TSA_CA_FILE", "")
    if not path:
        return []
    data = Path(path).read_bytes()
    if not pem.detect(data):
        return [asn1_x509.Certificate.load(data)]
    return [asn1_x509.Certificate.load(der) for _type, _headers, der in pem.unarmor(data, multiple=True)]


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
    try:
        status = asyncio.run(
            validate_tst_signed_data(
                signed_data,
                ValidationContext(trust_roots=roots, allow_fetching=False),
                lambda _algorithm: digest,
            )
        )
    except Exception as exc:
        return f"the token's signature cannot be checked ({exc.__class__.__name__}: {exc})"
    if not (status.get("intact") and status.get("valid")):
        return "the token's signature does not match its content"
    if trusted_pem and status.get("trust_problem_indic") is not None:
        return "the token was not signed by a certificate of the TSA chain kept for it"
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
            problem = check_signature(response, digest=digest)
            if problem:
                raise TokenError(problem)
        except (requests.RequestException, TokenError) as exc:
            failures.append(f"{url}: {exc.__class__.__name__}: {exc}"[:500])
            continue
        carried = carried_certificates(response["time_stamp_token"]["content"])
        return Stamp(url, answer.content, moment, chain_pem(carried + _extra_certificates()))
    raise TokenError("; ".join(failures))
