from django.urls import path

from . import followup_views, helpers_views, views

urlpatterns = [
    path("cases/<int:pk>/dossiers/new/", views.dossier_builder, name="dossier_builder"),
    path("dossiers/<int:pk>/", views.dossier_detail, name="dossier_detail"),
    path("dossiers/<int:pk>/status/", views.dossier_status, name="dossier_status"),
    path("dossiers/<int:pk>/pdf/", views.dossier_pdf, name="dossier_pdf"),
    path("dossiers/<int:pk>/bundle/", views.dossier_bundle, name="dossier_bundle"),
    path("dossiers/<int:pk>/reissue/", views.dossier_reissue, name="dossier_reissue"),
    path("verify/", views.verify_page, name="verify"),
    # Sharing a case with a helper (a lawyer, legal aid, a relative).
    path("cases/<int:pk>/shares/", helpers_views.case_shares, name="case_shares"),
    path("shares/<int:pk>/revoke/", helpers_views.share_revoke, name="share_revoke"),
    path("shares/<int:pk>/agent/", helpers_views.share_agent, name="share_agent"),
    path("shares/accept/", helpers_views.share_accept, name="share_accept"),
    path("shared/", helpers_views.shared_cases, name="shared_cases"),
    # After the dossier: the stop-contact notice, complaints sent, replies, escalation.
    path("cases/<int:pk>/notices/new/", followup_views.notice_new, name="notice_new"),
    path("notices/<int:pk>/", followup_views.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/pdf/", followup_views.notice_pdf, name="notice_pdf"),
    path("cases/<int:pk>/complaints/new/", followup_views.complaint_new, name="complaint_new"),
    path("complaints/<int:pk>/", followup_views.complaint_detail, name="complaint_detail"),
    path("complaints/<int:pk>/escalate/", followup_views.complaint_escalate, name="complaint_escalate"),
]
