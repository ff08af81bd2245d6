"""Fixtures of the trusted-timestamp tests: a local TSA (tests/stamps/local_tsa.py) configured as
the only TSA, its CA in TSA_CA_FILE, and dossiers built inline with a shared signing key."""

from __future__ import annotations

import socket

import pytest

from core.queues import QUEUES

from .local_tsa import LocalTSA


@pytest.fixture(scope="session")
def stamps_signing_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("stamps-signing")


@pytest.fixture(autouse=True)
def stamps_settings(settings, stamps_signing_dir):
    settings.DOSSIER_SIGNING_DIR = stamps_signing_dir
    settings.DOSSIER_TSA_URL = ""
    settings.TSA_URLS = []
    settings.TSA_CA_FILE = ""
    settings.TSA_TIMEOUT_SECONDS = 5
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": QUEUES}
    }


@pytest.fixture
def local_tsa(settings, tmp_path):
    """A running local TSA, configured as TSA_URLS with its CA in TSA_CA_FILE."""
    with LocalTSA() as tsa:
        ca_file = tmp_path / "tsa-ca.pem"
        ca_file.write_bytes(tsa.ca_pem)
        settings.TSA_URLS = [tsa.url]
        settings.TSA_CA_FILE = str(ca_file)
        yield tsa


@pytest.fixture
def refused_url():
    """An address where nothing listens: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"
