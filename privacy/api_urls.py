from django.urls import path

from . import api

urlpatterns = [
    path("export/", api.ExportCreate.as_view(), name="api_exports"),
    path("export/<int:pk>/", api.ExportDetail.as_view(), name="api_export"),
    path("export/<int:pk>/download", api.ExportDownload.as_view(), name="api_export_download"),
    path("account/", api.AccountDelete.as_view(), name="api_account"),
    path("cases/<int:pk>/hold", api.CaseHold.as_view(), name="api_case_hold"),
]
