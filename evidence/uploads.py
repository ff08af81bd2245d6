"""Upload handling: hash each file while it streams in, spool it to disk, enforce the size limit.

The handler replaces Django's default pair so that every uploaded file, on pages and in the API,
arrives with `.sha256` already computed over the exact bytes received, in one pass. Its temporary
files (in FILE_UPLOAD_TEMP_DIR, or the system's temporary folder) are named "evidence-upload-…", so
`manage.py cleanup_uploads` can remove the ones a killed server left behind, and only those.
"""

from __future__ import annotations

import hashlib
import tempfile

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

UPLOAD_TEMP_PREFIX = "evidence-upload-"
UPLOAD_TEMP_SUFFIX = ".upload"


class EvidenceTemporaryUploadedFile(TemporaryUploadedFile):
    """Django's temporary upload file under a recognisable name (and without the sender's extension)."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        file = tempfile.NamedTemporaryFile(
            prefix=UPLOAD_TEMP_PREFIX, suffix=UPLOAD_TEMP_SUFFIX, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Spools every file to a temporary file and feeds SHA-256 chunk by chunk."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.EVIDENCE_MAX_UPLOAD_BYTES
        # A body far over the limit is refused before a byte of it is read; the multipart
        # overhead allowance keeps a file of exactly the limit acceptable.
        if content_length and content_length > self.limit + 1024 * 1024:
            mark_too_large(self.request)
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def new_file(self, *args, **kwargs):
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = EvidenceTemporaryUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self.hasher = hashlib.sha256()
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > getattr(self, "limit", settings.EVIDENCE_MAX_UPLOAD_BYTES):
            mark_too_large(self.request)
            self.file.close()
            # Skip the rest of the body; the view answers 413 from the mark.
            raise StopUpload(connection_reset=False)
        self.hasher.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.sha256 = self.hasher.hexdigest()
        return uploaded


def mark_too_large(request) -> None:
    request.evidence_upload_too_large = True


def upload_too_large(request) -> bool:
    # DRF wraps the Django request; the mark sits on the inner one.
    inner = getattr(request, "_request", request)
    return bool(getattr(inner, "evidence_upload_too_large", False))
