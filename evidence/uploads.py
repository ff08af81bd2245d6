"""Upload handling: hash each file while it streams in, spool it to disk, enforce the size limit.

The handler replaces Django's default pair so that every uploaded file, on pages and in the API,
arrives with `.sha256` already computed over the exact bytes received, in one pass. Its temporary
files (in FILE_UPLOAD_TEMP_DIR, or the system's temporary folder) are named "evidence-upload-…", so
`manage.py cleanup_uploads` can remove the ones a killed server left behind, and only those.

On S3-compatible storage a file that outgrows one part (8 MiB) is also sent to the bucket while it
arrives: the handler asks the storage for a streamed upload (`begin_streamed_upload`, see
evidence/storage_s3.py) and hands it each part as soon as the part is on disk, so the store receives
the file while the phone is still sending it. Storing the file completes it; a request that fails,
is refused or keeps no file aborts it (the file's `close()`, and `StreamedUploadsMiddleware` for a
request that broke off mid-file), so no part is left in the bucket.
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
        self.streamed = None  # a StreamedUpload on object storage, once the file outgrows one part

    def close(self):
        if self.streamed is not None:
            self.streamed.abort()  # nothing when storing the file has already completed it
        return super().close()


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
        self.begin_streamed = _streaming_backend()
        self.streamed_until = 0  # bytes of the file handed to the streamed upload

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > getattr(self, "limit", settings.EVIDENCE_MAX_UPLOAD_BYTES):
            mark_too_large(self.request)
            self.file.close()
            # Skip the rest of the body; the view answers 413 from the mark.
            raise StopUpload(connection_reset=False)
        self.hasher.update(raw_data)
        self.file.write(raw_data)
        if self.begin_streamed is not None and self.received - self.streamed_until >= self.part_bytes:
            self._stream_parts()

    part_bytes = 8 * 1024 * 1024  # evidence.storage_s3.STREAM_PART_BYTES (not imported: no boto3 here)

    def _stream_parts(self, *, last: bool = False) -> None:
        self.file.flush()
        if self.file.streamed is None:
            self.file.streamed = self.begin_streamed(self.file.fileno())
            _register(self.request, self.file.streamed)
        while self.received - self.streamed_until >= self.part_bytes:
            self.file.streamed.send(self.streamed_until, self.part_bytes)
            self.streamed_until += self.part_bytes
        if last and self.received > self.streamed_until:
            self.file.streamed.send(self.streamed_until, self.received - self.streamed_until)
            self.streamed_until = self.received

    def file_complete(self, file_size):
        if self.file.streamed is not None:
            self._stream_parts(last=True)  # the rest as the last part, sent while the view inspects
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.sha256 = self.hasher.hexdigest()
        return uploaded


def _streaming_backend():
    """The storage's `begin_streamed_upload` when it streams uploads (S3), else None."""
    from django.core.files.storage import default_storage  # noqa: PLC0415  (settings may change in tests)

    if not getattr(settings, "EVIDENCE_S3_STREAM_UPLOADS", True):
        return None
    return getattr(default_storage, "begin_streamed_upload", None)


def _register(request, streamed) -> None:
    inner = getattr(request, "_request", request)
    if not hasattr(inner, "evidence_streamed_uploads"):
        inner.evidence_streamed_uploads = []
    inner.evidence_streamed_uploads.append(streamed)


class StreamedUploadsMiddleware:
    """Aborts, when the response is ready, every streamed upload of the request that no stored
    evidence completed: a body that broke off mid-file never reaches the file's `close()`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            for streamed in getattr(request, "evidence_streamed_uploads", ()):
                streamed.abort()


def mark_too_large(request) -> None:
    request.evidence_upload_too_large = True


def upload_too_large(request) -> bool:
    # DRF wraps the Django request; the mark sits on the inner one.
    inner = getattr(request, "_request", request)
    return bool(getattr(inner, "evidence_upload_too_large", False))
