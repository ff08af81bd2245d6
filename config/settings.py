"""One settings file, driven by environment variables.

Defaults give the embedded laptop set-up: SQLite and a private data folder under ./var, no variables
needed. Production sets DJANGO_DEBUG=0 plus a secret key and allowed hosts; bad values fail loudly.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from core.queues import QUEUES as TASK_QUEUES

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = envbool("DJANGO_DEBUG", True)

# Everything the installation keeps lives in one private folder: the SQLite database, the
# evidence blobs and the signing key. It is never served by the web server.
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
# It holds ID numbers, password hashes and recordings: only the server's own user may enter it
# (accounts/apps.py keeps the database file itself at 0600).
DATA_DIR.chmod(0o700)
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    # A laptop installation keeps a random key of its own in the data folder, so sessions
    # survive restarts without anyone having to set a variable.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Earlier keys still accepted for sessions and reset links while they expire (rotation: README).
SECRET_KEY_FALLBACKS = envlist("DJANGO_SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "ledger",
    "stamps",
    "accounts",
    "evidence",
    "complaints",
    "privacy",
]

MIDDLEWARE = [
    "config.request_log.RequestLogMiddleware",
    # Aborts what a request sent to object storage while it arrived and did not keep (evidence/uploads.py).
    "evidence.uploads.StreamedUploadsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages and API answers gzipped (static files come precompressed from WhiteNoise above, evidence
    # and PDF downloads are not recompressed): config/compression.py says why this is safe here.
    "config.compression.TextGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # A page that reaches an unreachable object store answers 503 with a message, not a bare 500.
    "evidence.middleware.StorageOutageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
            ],
        },
    },
]

# Database: SQLite in the data folder by default; DATABASE_URL switches engines (PostgreSQL via
# psycopg 3). SQLite takes its write lock at BEGIN so concurrent uploads queue instead of failing.
if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # A database host that does not answer costs a request (or the worker) seconds, not the
        # operating system's TCP timeout of minutes.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", envint("DATABASE_CONNECT_TIMEOUT", 5)
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
            # Tests use a file, not shared-cache memory, so threads in live-server tests lock
            # the way a real installation does.
            "TEST": {"NAME": str(DATA_DIR / "test-db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "case_list"
LOGOUT_REDIRECT_URL = "login"

# Languages: Chinese first, English second.
LANGUAGE_CODE = "zh-hans"
# Language names are shown in their own language, so they are not translated.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production (DEBUG off) serves what `collectstatic` wrote to STATIC_ROOT (`make serve` and the
# Procfile's release step run it): names carrying a hash of their content, which WhiteNoise sends with
# a cache lifetime of ten years (immutable), and a gzip (and, with the brotli package, br) copy of
# each text file beside it, sent to browsers that accept it. With DEBUG on (a laptop, the tests) files
# are found in place under their plain names, and no manifest is needed.
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_BACKEND = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
    if DEBUG
    else "whitenoise.storage.CompressedManifestStaticFilesStorage"
)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Evidence goes through the storage API only, into a folder that no URL maps to.
EVIDENCE_ROOT = Path(os.environ.get("EVIDENCE_ROOT", DATA_DIR / "evidence-store")).resolve()
STORAGES = {
    "default": {
        # Written to a temporary name, fsynced and renamed into place: a crash never leaves a fragment
        # under a real name.
        "BACKEND": "evidence.storage.EvidenceFileSystemStorage",
        "OPTIONS": {
            "location": str(EVIDENCE_ROOT),
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
    "staticfiles": {"BACKEND": STATICFILES_BACKEND},
}
MEDIA_ROOT = str(EVIDENCE_ROOT)

# S3-compatible object storage (AWS S3, MinIO, Aliyun OSS): set the bucket and the rest follows.
EVIDENCE_S3_BUCKET = os.environ.get("EVIDENCE_S3_BUCKET", "")
EVIDENCE_S3_RETENTION_DAYS = envint("EVIDENCE_S3_RETENTION_DAYS", 0)
EVIDENCE_S3_RETENTION_MODE = os.environ.get("EVIDENCE_S3_RETENTION_MODE", "COMPLIANCE").upper()
if EVIDENCE_S3_RETENTION_MODE not in ("COMPLIANCE", "GOVERNANCE"):
    raise ImproperlyConfigured("EVIDENCE_S3_RETENTION_MODE must be COMPLIANCE or GOVERNANCE")
# Downloads stream through the app by default; with this on they redirect to a presigned URL
# valid for a few minutes (for the recorded version of the object).
EVIDENCE_S3_PRESIGNED_DOWNLOADS = envbool("EVIDENCE_S3_PRESIGNED_DOWNLOADS", False)
# Files over one part (8 MiB) go to the bucket while the request body arrives (evidence/uploads.py).
EVIDENCE_S3_STREAM_UPLOADS = envbool("EVIDENCE_S3_STREAM_UPLOADS", True)
if EVIDENCE_S3_BUCKET:
    addressing = os.environ.get("AWS_S3_ADDRESSING_STYLE", "auto")
    if addressing not in ("auto", "path", "virtual"):
        raise ImproperlyConfigured("AWS_S3_ADDRESSING_STYLE must be auto, path or virtual")
    STORAGES["default"] = {
        # Imported only here, when a bucket is set: boto3 never loads for local files.
        "BACKEND": "evidence.storage_s3.EvidenceS3Storage",
        "OPTIONS": {
            "bucket_name": EVIDENCE_S3_BUCKET,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "addressing_style": None if addressing == "auto" else addressing,
            "location": os.environ.get("EVIDENCE_S3_PREFIX", ""),
            "signature_version": "s3v4",
            "querystring_expire": envint("EVIDENCE_S3_URL_SECONDS", 300),
        },
    }
# Every S3 request is bounded (evidence.storage_s3.EvidenceS3Storage builds botocore's Config from
# these): a store that accepts connections and never answers costs a request at most
# attempts x (connect + read) seconds (2 x (3 + 10) = 26 s by default), never botocore's defaults of
# minutes. The read timeout is per socket read (a large download streams on), not per request.
EVIDENCE_S3_CONNECT_TIMEOUT = envint("EVIDENCE_S3_CONNECT_TIMEOUT", 3)
EVIDENCE_S3_READ_TIMEOUT = envint("EVIDENCE_S3_READ_TIMEOUT", 10)
EVIDENCE_S3_MAX_ATTEMPTS = envint("EVIDENCE_S3_MAX_ATTEMPTS", 2)  # the first try included
if min(EVIDENCE_S3_CONNECT_TIMEOUT, EVIDENCE_S3_READ_TIMEOUT, EVIDENCE_S3_MAX_ATTEMPTS) < 1:
    raise ImproperlyConfigured(
        "EVIDENCE_S3_CONNECT_TIMEOUT, _READ_TIMEOUT and _MAX_ATTEMPTS must be at least 1"
    )

# Uploads: every file is hashed while it streams in, and spooled to disk, never held in memory.
FILE_UPLOAD_HANDLERS = ["evidence.uploads.HashingUploadHandler"]
EVIDENCE_MAX_UPLOAD_BYTES = envint("EVIDENCE_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
# Resumable (tus) uploads spool here until complete: one folder every web instance mounts (a shared
# volume when there are several), never per-process state.
RESUMABLE_UPLOAD_DIR = Path(os.environ.get("RESUMABLE_UPLOAD_DIR", DATA_DIR / "resumable"))
RESUMABLE_UPLOAD_EXPIRY_HOURS = envint("RESUMABLE_UPLOAD_EXPIRY_HOURS", 24)  # after the last piece arrived
RESUMABLE_MAX_INFLIGHT_BYTES = envint("RESUMABLE_MAX_INFLIGHT_BYTES", 2 * 1024**3)  # declared, per account
RESUMABLE_MAX_INFLIGHT_UPLOADS = envint("RESUMABLE_MAX_INFLIGHT_UPLOADS", 100)  # unfinished, per account
FILE_UPLOAD_TEMP_DIR = os.environ.get("FILE_UPLOAD_TEMP_DIR") or None
DATA_UPLOAD_MAX_NUMBER_FILES = 100
# Images larger than this (width × height) are kept as evidence but never decoded for metadata or
# thumbnails (a 164 KB PNG can declare 13000×13000 pixels).
EVIDENCE_MAX_IMAGE_PIXELS = envint("EVIDENCE_MAX_IMAGE_PIXELS", 50_000_000)
# The memory one image's decoding may take (thumbnails, text recognition), web and worker alike.
EVIDENCE_MAX_DECODE_BYTES = envint("EVIDENCE_MAX_DECODE_BYTES", 40 * 1024 * 1024)
# Carrier spreadsheets (.xlsx) are sized up before openpyxl reads them (evidence.carrier): zip
# members, their declared sizes and compression ratio, XML parts parsed whole, shared strings.
XLSX_MAX_ENTRIES = envint("XLSX_MAX_ENTRIES", 1000)
XLSX_MAX_UNPACKED_BYTES = envint("XLSX_MAX_UNPACKED_BYTES", 256 * 1024 * 1024)
XLSX_MAX_RATIO = envint("XLSX_MAX_RATIO", 100)
XLSX_MAX_PART_BYTES = envint("XLSX_MAX_PART_BYTES", 16 * 1024 * 1024)
XLSX_MAX_STRINGS_BYTES = envint("XLSX_MAX_STRINGS_BYTES", 32 * 1024 * 1024)

# Public verification (/verify/, POST /api/v1/verify/) takes anyone's upload: what it reads is bounded.
VERIFY_MAX_PDF_BYTES = envint("VERIFY_MAX_PDF_BYTES", 50 * 1024 * 1024)
VERIFY_MAX_MANIFEST_BYTES = envint("VERIFY_MAX_MANIFEST_BYTES", 32 * 1024 * 1024)
VERIFY_MAX_TEXT_BYTES = envint("VERIFY_MAX_TEXT_BYTES", 4 * 1024 * 1024)
VERIFY_MAX_UNPACKED_BYTES = envint("VERIFY_MAX_UNPACKED_BYTES", 1024 * 1024 * 1024)
VERIFY_MAX_ENTRIES = envint("VERIFY_MAX_ENTRIES", 10_000)
VERIFY_MAX_RATIO = envint("VERIFY_MAX_RATIO", 100)

# Who may create an account: "open", "invite" (a code from `manage.py invite`), or "closed" (accounts
# are made by an operator: `manage.py createsuperuser`, or the admin).
SIGNUP_MODE = os.environ.get("SIGNUP_MODE", "open")
if SIGNUP_MODE not in ("open", "invite", "closed"):
    raise ImproperlyConfigured(f"SIGNUP_MODE must be open, invite or closed, not {SIGNUP_MODE!r}")
# How much evidence one account may keep (bytes); uploads past it are refused with 413.
EVIDENCE_QUOTA_BYTES = envint("EVIDENCE_QUOTA_BYTES", 20 * 1024 * 1024 * 1024)

# Throttling (429 with Retry-After): attempts per client address, e.g. "60/hour" or "5/10min".
VERIFY_RATE = os.environ.get("VERIFY_RATE", "60/hour")
LOGIN_RATE = os.environ.get("LOGIN_RATE", "10/10min")
SIGNUP_RATE = os.environ.get("SIGNUP_RATE", "5/hour")
# Failed logins on one account from every address together: past this, each attempt on the account
# waits LOGIN_ACCOUNT_DELAY seconds first; it never refuses the right password from a new address.
LOGIN_ACCOUNT_RATE = os.environ.get("LOGIN_ACCOUNT_RATE", "50/hour")
LOGIN_ACCOUNT_DELAY = float(os.environ.get("LOGIN_ACCOUNT_DELAY", "1"))
# Password-reset mails: per client address, and per e-mail address asked for.
PASSWORD_RESET_RATE = os.environ.get("PASSWORD_RESET_RATE", "5/hour")
PASSWORD_RESET_ACCOUNT_RATE = os.environ.get("PASSWORD_RESET_ACCOUNT_RATE", "3/hour")
# Trusted proxies in front of the web server (1 behind nginx), so the client's address is read from
# X-Forwarded-For; 0 trusts none and counts REMOTE_ADDR.
THROTTLE_PROXY_HOPS = envint("THROTTLE_PROXY_HOPS", 1 if envbool("DJANGO_BEHIND_PROXY", False) else 0)
THROTTLE_CACHE = "default"
# Web processes serving at once (gunicorn's workers: config/gunicorn.py reads the same variable).
# With more than one, the throttle cache must be shared (CACHE_URL): `check --deploy` says so.
WEB_CONCURRENCY = envint("WEB_CONCURRENCY", 3)
# Counters live in the cache: one process keeps its own; several web processes or instances share
# Redis (CACHE_URL=redis://host:6379/0).
if os.environ.get("CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["CACHE_URL"],
            # An unreachable or hung Redis fails a request within seconds instead of holding it.
            "OPTIONS": {
                "socket_connect_timeout": envint("CACHE_TIMEOUT_SECONDS", 2),
                "socket_timeout": envint("CACHE_TIMEOUT_SECONDS", 2),
            },
        }
    }

# Rule packs (one TOML file per jurisdiction). RULE_PACK_DIRS in the environment adds folders
# (separated by ':'); a pack there replaces a bundled one of the same id.
RULE_PACK_DIRS = [BASE_DIR / "evidence" / "rulepacks"]

# Complaint dossiers: a TrueType CJK font to embed (found automatically when fonts-wqy-zenhei is
# installed), the installation's signing key folder, and an optional RFC 3161 timestamp authority.
DOSSIER_FONT_PATH = os.environ.get("DOSSIER_FONT_PATH", "")
DOSSIER_SIGNING_DIR = Path(os.environ.get("DOSSIER_SIGNING_DIR", DATA_DIR / "signing"))
DOSSIER_SIGNER_NAME = os.environ.get("DOSSIER_SIGNER_NAME", "Collection Evidence Keeper dossier signing")
DOSSIER_TSA_URL = os.environ.get("DOSSIER_TSA_URL", "")

# Follow-up (complaints app): how often a worker looks for due reply-deadline reminders, and the
# data file of reply deadlines per addressee (empty: complaints/deadlines.toml).
FOLLOWUP_REMINDER_SECONDS = int(os.environ.get("FOLLOWUP_REMINDER_SECONDS", "600"))
COMPLAINT_DEADLINES_FILE = os.environ.get("COMPLAINT_DEADLINES_FILE", "")

# Exports of a whole account (privacy app): kept this many days, built in this folder (it needs room
# for the largest account; empty: the system's temporary folder), re-queued when stalled this long.
EXPORT_KEEP_DAYS = int(os.environ.get("EXPORT_KEEP_DAYS", "7"))
EXPORT_TEMP_DIR = os.environ.get("EXPORT_TEMP_DIR", "")
EXPORT_STALL_SECONDS = int(os.environ.get("EXPORT_STALL_SECONDS", "900"))
# Trusted timestamps at arrival: every evidence file's SHA-256 (and every moved audit-chain head)
# enters a batch; each TSA_BATCH_SECONDS the batch's Merkle root is sent to the RFC 3161 TSAs of
# TSA_URLS, tried in order (DOSSIER_TSA_URL alone still works). A failed batch is retried after the
# interval, doubled per failure up to TSA_RETRY_MAX_SECONDS. TSA_CA_FILE: the TSAs' CA certificates
# (PEM): a token is kept only when its signer chains to one of them (unset: to the system trust
# store), and they are kept with each token so a bundle can be checked offline. Dossiers report how
# many files were stamped within TSA_PROMPT_MINUTES of arrival.
TSA_URLS = envlist("TSA_URLS", [])
TSA_BATCH_SECONDS = envint("TSA_BATCH_SECONDS", 60)
if TSA_BATCH_SECONDS <= 0:
    raise ImproperlyConfigured(f"TSA_BATCH_SECONDS must be positive, not {TSA_BATCH_SECONDS}")
TSA_TIMEOUT_SECONDS = envint("TSA_TIMEOUT_SECONDS", 10)
TSA_RETRY_MAX_SECONDS = envint("TSA_RETRY_MAX_SECONDS", 3600)
TSA_CA_FILE = os.environ.get("TSA_CA_FILE", "")
TSA_PROMPT_MINUTES = envint("TSA_PROMPT_MINUTES", 5)
# The public address of this installation: dossiers print its verify page, and their QR code opens
# it with the seal, so a handler's phone camera starts the check.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
# Reminders by Web Push (accounts/push.py): the installation's VAPID key, made once in the data folder
# (never in the repository: a browser's subscription is bound to it), the `sub` claim push services
# may contact (empty: SITE_URL when it is https, else a mailto), and how long a push may wait.
VAPID_PRIVATE_KEY_FILE = Path(os.environ.get("VAPID_PRIVATE_KEY_FILE", DATA_DIR / "vapid" / "private.pem"))
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "")
PUSH_TIMEOUT_SECONDS = envint("PUSH_TIMEOUT_SECONDS", 10)
PUSH_TTL_SECONDS = envint("PUSH_TTL_SECONDS", 3 * 24 * 3600)
# 快速离开 / Quick exit (on every page): the neutral page it replaces the app with.
QUICK_EXIT_URL = os.environ.get("QUICK_EXIT_URL", "https://www.baidu.com/s?wd=%E5%A4%A9%E6%B0%94")
# The push services a subscription may name (origins, `*` as a wildcard): the server POSTs there.
PUSH_SERVICE_ORIGINS = envlist(
    "PUSH_SERVICE_ORIGINS",
    [
        "https://fcm.googleapis.com",
        "https://updates.push.services.mozilla.com",
        "https://*.push.apple.com",
        "https://*.notify.windows.com",
    ],
)

# Background work through the django-tasks API, queued in the database and run by `manage.py worker`
# (django-tasks-db's db_worker plus a heartbeat, the stall sweep and housekeeping; `make run` starts
# one beside the development server).
DOSSIER_STALL_SECONDS = envint("DOSSIER_STALL_SECONDS", 180)  # a build's heartbeat unmoved this long: stopped
DOSSIER_MAX_ATTEMPTS = envint("DOSSIER_MAX_ATTEMPTS", 2)  # builds started before it is marked failed
DOSSIER_HEARTBEAT_SECONDS = envint(
    "DOSSIER_HEARTBEAT_SECONDS", 30
)  # a running build beats at least this often
DOSSIER_SWEEP_SECONDS = envint("DOSSIER_SWEEP_SECONDS", 30)  # how often a worker looks for stopped builds
WORKER_HEARTBEAT_SECONDS = envint("WORKER_HEARTBEAT_SECONDS", 15)
WORKER_HEARTBEAT_GRACE_SECONDS = envint(
    "WORKER_HEARTBEAT_GRACE_SECONDS", 15
)  # down after 2x interval + grace
# While the database or the storage is out, a worker retries after 1 s, doubling up to this.
WORKER_BACKOFF_MAX_SECONDS = envint("WORKER_BACKOFF_MAX_SECONDS", 60)
HOUSEKEEPING_SECONDS = envint("HOUSEKEEPING_SECONDS", 3600)  # 0: the worker never runs it (use cron)
TASK_RESULTS_KEEP_DAYS = envint("TASK_RESULTS_KEEP_DAYS", 14)
# /healthz probes the database, the storage and the cache at once, each given at most this long, so
# the check answers within about 2 s whatever hangs behind it.
HEALTH_STORAGE_TIMEOUT_SECONDS = envint("HEALTH_STORAGE_TIMEOUT_SECONDS", 2)
HEALTH_PENDING_WARN_SECONDS = envint("HEALTH_PENDING_WARN_SECONDS", 300)
HEALTH_DISK_MIN_FREE_MB = envint("HEALTH_DISK_MIN_FREE_MB", 1024)
# Three queues (core/queues.py): "default" (dossiers, exports, purges), "imports" and "ocr"; a worker
# serves all of them unless started with --queue-name.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": TASK_QUEUES,
    }
}
# Phone-log imports above either limit run in the background (202 and a job to poll), written in
# batches of IMPORT_BATCH_ROWS entries, each its own short transaction, so other users keep writing.
# A running import whose heartbeat has not moved for IMPORT_STALL_SECONDS (or whose worker is down)
# is resumed by the sweep, at most IMPORT_MAX_ATTEMPTS times, then failed with the reason; so is an
# image whose text recognition was interrupted (OCR_MAX_ATTEMPTS).
IMPORT_SYNC_MAX_ROWS = envint("IMPORT_SYNC_MAX_ROWS", 20_000)
IMPORT_SYNC_MAX_BYTES = envint("IMPORT_SYNC_MAX_BYTES", 8 * 1024 * 1024)
IMPORT_BATCH_ROWS = envint("IMPORT_BATCH_ROWS", 2000)
IMPORT_STALL_SECONDS = envint("IMPORT_STALL_SECONDS", 180)
IMPORT_MAX_ATTEMPTS = envint("IMPORT_MAX_ATTEMPTS", 3)
OCR_MAX_ATTEMPTS = envint("OCR_MAX_ATTEMPTS", 2)

# Mail (password resets). The console backend prints whole mails, reset links included, into the
# log: it is the laptop default only, and `check --deploy` refuses it (accounts/checks.py).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "evidence.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# Content Security Policy: no inline script, nothing from other origins.
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Transport security follows DEBUG: on in production, off on a laptop's plain http://127.0.0.1.
SECURE = envbool("DJANGO_SECURE", not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = envbool("DJANGO_SSL_REDIRECT", SECURE)
# Health checks come from inside the network over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", 31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if envbool("DJANGO_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Logs go to stdout: one JSON object a line in production (LOG_FORMAT=json), plain text on a laptop.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
# Python warnings become log records too (config.logging.configure).
LOGGING_CONFIG = "config.logging.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id", "redact"],
        }
    },
    "filters": {
        "request_id": {"()": "config.request_log.RequestIdFilter"},
        # Password-reset links (user id and token) never reach the log.
        "redact": {"()": "config.request_log.RedactSecrets"},
        "downgrade": {"()": "config.request_log.DowngradeToWarning"},
    },
    "loggers": {
        # A wrong Host header is a scanner or a misconfigured proxy: a warning, not an error.
        "django.security.DisallowedHost": {
            "handlers": ["console"],
            "filters": ["downgrade"],
            "propagate": False,
        },
        # The request log (config.request_log) replaces Django's own line per 4xx/5xx response.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
}
