from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("complaints.api_urls")),
    path("api/v1/", include("evidence.api_urls")),
    path("accounts/", include("evidence.account_urls")),
    path("", include("complaints.urls")),
    path("", include("evidence.urls")),
]
