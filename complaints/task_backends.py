"""An in-process task backend for the django-tasks API: each task runs in a background thread of
the web process once the transaction that enqueued it commits.

This is the laptop default: `make run` needs no worker process, and a dossier build never holds up
the request that ordered it. Installations with workers use the database backend instead.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections, connections, transaction
from django_tasks.backends.immediate import ImmediateBackend
from django_tasks.base import TaskResult, TaskResultStatus
from django_tasks.utils import get_random_id

logger = logging.getLogger(__name__)


class ThreadBackend(ImmediateBackend):
    supports_async_task = False
    _executor: ThreadPoolExecutor | None = None

    def __init__(self, alias: str, params: dict):
        super().__init__(alias, params)
        self.max_workers = int(self.options.get("MAX_WORKERS", 1))

    def executor(self) -> ThreadPoolExecutor:
        if ThreadBackend._executor is None:
            ThreadBackend._executor = ThreadPoolExecutor(max_workers=self.max_workers,
                                                         thread_name_prefix="task-worker")
        return ThreadBackend._executor

    def enqueue(self, task, args, kwargs):
        self.validate_task(task)
        task_result = TaskResult(task=task, id=get_random_id(), status=TaskResultStatus.READY, enqueued_at=None,
                                 started_at=None, last_attempted_at=None, finished_at=None, args=args,
                                 kwargs=kwargs, backend=self.alias, errors=[], worker_ids=[])

        def run() -> None:
            close_old_connections()
            try:
                self._execute_task(task_result)
            except Exception:  # the task records its own failure; this is the last resort
                logger.exception("task %s crashed", task.name)
            finally:
                connections.close_all()

        transaction.on_commit(lambda: self.executor().submit(run))
        return task_result
