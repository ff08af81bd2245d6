"""Background tasks (django-tasks API)."""

from __future__ import annotations

from django_tasks import task


@task()
def build_dossier(dossier_id: int) -> str:
    # Building draws and signs the PDF (reportlab, pyHanko): a worker loads them with its first
    # dossier, and a web process that only queues builds never does.
    from .building import dossier_build  # noqa: PLC0415

    return dossier_build(dossier_id=dossier_id).status
