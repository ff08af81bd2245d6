from django.urls import path, re_path

from . import api, resumable, shares_api

urlpatterns = [
    path("cases/", api.CaseListCreate.as_view(), name="api_cases"),
    path("cases/<int:pk>/", api.CaseDetail.as_view(), name="api_case"),
    path("cases/<int:pk>/shares/", shares_api.CaseShares.as_view(), name="api_case_shares"),
    path("cases/<int:pk>/access-log/", shares_api.CaseAccessLog.as_view(), name="api_case_access_log"),
    path("shares/accept", shares_api.ShareAccept.as_view(), name="api_share_accept"),
    path("shares/<int:pk>/", shares_api.ShareDetail.as_view(), name="api_share"),
    path("incidents/", api.IncidentListCreate.as_view(), name="api_incidents"),
    path("incidents/<int:pk>/", api.IncidentDetail.as_view(), name="api_incident"),
    path("incidents/<int:pk>/evidence/", api.IncidentEvidenceCreate.as_view(), name="api_incident_evidence"),
    path("evidence/", api.EvidenceAutofile.as_view(), name="api_evidence_autofile"),
    path("evidence/<int:pk>/", api.EvidenceDetail.as_view(), name="api_evidence"),
    path("evidence/<int:pk>/download", api.EvidenceDownload.as_view(), name="api_evidence_download"),
    path("imports/", api.PhoneLogImport.as_view(), name="api_imports"),
    path("imports/<int:pk>/", api.PhoneLogImportDetail.as_view(), name="api_import"),
    path("uploads/", resumable.TusCreate.as_view(), name="tus_create"),
    path("uploads/<uuid:upload_id>", resumable.TusUpload.as_view(), name="tus_upload"),
    re_path(r"^.*$", api.api_not_found),
]
