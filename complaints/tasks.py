"""Background tasks (django-tasks API)."""

from __future__ import annotations

from django_tasks import task


@task()
def build_dossier(dossier_id: int) -> str:
    from .services import dossier_build

    return dossier_build(dossier_id=dossier_id).status
