"""GET /healthz: for load balancers and monitors (no login, never cached).

200 with "status": "ok", or "degraded" when the node can serve but something behind it needs an
operator (no worker alive, a queue that does not move, a stopped build, low disk, a lost signing key);
503 with "status": "error" when the database, the storage or a shared cache (Redis) fails. The three
are probed at once and waited for at most HEALTH_STORAGE_TIMEOUT_SECONDS (complaints/health_probes.py). `manage.py status` prints the same facts and exits non-zero unless ok.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from complaints.health import health_report


@never_cache
def healthz(request):
    report = health_report()
    return JsonResponse(report, status=503 if report["status"] == "error" else 200)
