"""Structured logs: one JSON object per line on stdout, easy for any log collector to parse."""

from __future__ import annotations

import json
import logging
import logging.config
import warnings
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status_code", "duration_ms", "user_id"):
            value = getattr(record, key, None)
            if value not in (None, ""):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(settings: dict) -> None:
    """Django's LOGGING_CONFIG: the dict above, plus Python warnings as log records.

    A warning printed as a bare stderr line breaks the one-JSON-object-a-line stream, so every
    warning goes through the `py.warnings` logger. One known third-party deprecation is filtered
    where it is raised (and nowhere else): cryptography >= 46 warns about DSA when pyHanko's CMS
    module imports the DSA key class; pyHanko never signs with DSA here."""
    logging.config.dictConfig(settings)
    logging.captureWarnings(True)
    warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"pyhanko\.sign\.signers\.pdf_cms")
