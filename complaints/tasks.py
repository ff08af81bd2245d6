"""Background tasks (django-tasks API)."""

from __future__ import annotations

from django_tasks import task

from .building import dossier_build


@task()
def build_dossier(dossier_id: int) -> str:
    return dossier_build(dossier_id=dossier_id).status
