"""Fixtures shared by the resumable-upload tests that run real servers (crash safety, tus attacks)."""

from __future__ import annotations

import pytest


@pytest.fixture
def spool_dir(tmp_path, settings):
    """A spool folder and an upload temp folder of this test's own: cleanups only ever see its files."""
    folder = tmp_path / "spool"
    settings.RESUMABLE_UPLOAD_DIR = folder
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    return folder


@pytest.fixture
def secret(alice):
    """An API token of alice's, for the tus requests."""
    from accounts.services import token_create

    return token_create(user=alice, name="resumable tests")[1]
