from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("favicon.ico", views.favicon),
    path("help/phone/", views.phone_help, name="phone_help"),
    path("share/", views.share, name="share"),
    path("share/receive/", views.share_receive, name="share_receive"),
    path("offline/", views.offline, name="offline"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/new/", views.case_create, name="case_create"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/edit/", views.case_edit, name="case_edit"),
    path("cases/<int:pk>/log/<str:kind>/", views.incident_create, name="incident_create"),
    path("cases/<int:pk>/import/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", views.import_preview, name="import_preview"),
    path("imports/<int:pk>/status", views.import_status, name="import_status"),
    path("cases/<int:pk>/recordings/", views.recordings_upload, name="recordings_upload"),
    path("cases/<int:pk>/record-visit/", views.visit_record, name="visit_record"),
    path("evidence/<int:pk>/move/", views.evidence_move, name="evidence_move"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="incident_edit"),
    path("incidents/<int:pk>/choose/", views.incident_conflict_choose, name="incident_conflict_choose"),
    path("incidents/<int:pk>/delete/", views.incident_delete, name="incident_delete"),
    path("incidents/<int:pk>/evidence/", views.evidence_upload, name="evidence_upload"),
    path("evidence/<int:pk>/download/", views.evidence_download, name="evidence_download"),
    path("evidence/<int:pk>/view/", views.evidence_inline, name="evidence_inline"),
    path("evidence/<int:pk>/thumb/", views.evidence_thumbnail, name="evidence_thumbnail"),
    path("evidence/<int:pk>/delete/", views.evidence_delete, name="evidence_delete"),
    path("evidence/<int:pk>/read/", views.ocr_preview, name="ocr_preview"),
]
