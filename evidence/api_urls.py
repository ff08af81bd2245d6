from django.urls import path, re_path

from . import api, resumable

urlpatterns = [
    path("cases/", api.CaseListCreate.as_view(), name="api_cases"),
    path("cases/<int:pk>/", api.CaseDetail.as_view(), name="api_case"),
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
