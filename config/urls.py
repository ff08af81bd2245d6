from django.contrib import admin
from django.urls import include, path

from accounts.views import language_switch
from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("complaints.api_urls")),
    path("api/v1/", include("privacy.api_urls")),
    path("api/v1/", include("evidence.api_urls")),
    path("accounts/", include("accounts.urls")),
    path("language/", language_switch, name="language_switch"),
    path("", include("complaints.urls")),
    path("", include("privacy.urls")),
    path("", include("evidence.urls")),
]
