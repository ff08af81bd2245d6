"""A local RFC 3161 time-stamp authority for tests and benchmarks (no network): pyHanko's
DummyTimeStamper behind http.server, with a CA and a TSA certificate whose extended key usage is
timeStamping (critical), as `openssl ts -verify` requires.

Generating RSA keys costs more than most tests, so each named identity is made once per session:
every `LocalTSA()` is the same "Test TSA" under the same CA, and `LocalTSA("Rogue TSA")` is another
TSA under a CA of its own (one that TSA_CA_FILE does not hold)."""

from __future__ import annotations

import functools
import http.server
import threading
from datetime import UTC, datetime, timedelta

from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper


@functools.cache
def _identity(name: str = "Test TSA"):
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{name} Authority"),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca.public_bytes(serialization.Encoding.PEM),
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    )


class LocalTSA:
    """`url`, `ca_pem` (the root to trust), `subject` (its certificate's, as a dossier names it),
    `requests` (bodies received), `failing`: while set, every request is answered with HTTP 500, and
    `clock`: when set, the time the TSA vouches for (a benchmark's simulated clock)."""

    def __init__(self, name: str = "Test TSA"):
        self.ca_pem, cert, key = _identity(name)
        self.subject = f"{name} Authority / {name}"
        self.stamper = DummyTimeStamper(tsa_cert=cert, tsa_key=key)
        self.requests: list[bytes] = []
        self.failing = False
        self.clock = None
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                tsa.requests.append(body)
                if tsa.failing:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = tsa.answer(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                """Keep the output free of the server's access log."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, body: bytes) -> bytes:
        self.stamper.fixed_dt = self.clock() if self.clock else None
        return self.stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()

    def __enter__(self) -> LocalTSA:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
