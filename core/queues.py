"""The task queues: every background task names one, and a worker serves some or all of them
(`manage.py worker --queue-name imports,ocr`).

Dossier builds, exports and purges stay on "default"; phone-log imports and text recognition (OCR)
can each take minutes or come in bursts of hundreds, so they have queues of their own and a dossier
never waits behind them when a worker serves "default" alone. settings.TASKS declares these names
(django-tasks refuses a task whose queue its backend does not declare).
"""

from __future__ import annotations

DEFAULT = "default"
IMPORTS = "imports"
OCR = "ocr"

QUEUES = [DEFAULT, IMPORTS, OCR]
