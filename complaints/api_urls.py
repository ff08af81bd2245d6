from django.urls import path

from . import activity, api, followup_api

urlpatterns = [
    # The person's own actions on a case: imports, notices, complaints, replies (never contacts).
    path("cases/<int:pk>/activity/", activity.CaseActivity.as_view(), name="api_case_activity"),
    path("dossiers/", api.DossierCreate.as_view(), name="api_dossiers"),
    path("dossiers/<int:pk>/", api.DossierDetail.as_view(), name="api_dossier"),
    path("dossiers/<int:pk>/pdf", api.DossierPdf.as_view(), name="api_dossier_pdf"),
    path("dossiers/<int:pk>/bundle", api.DossierBundle.as_view(), name="api_dossier_bundle"),
    path("dossiers/<int:pk>/issue", api.DossierIssue.as_view(), name="api_dossier_issue"),
    path("dossiers/<int:pk>/retry", api.DossierRetry.as_view(), name="api_dossier_retry"),
    path("verify/", api.Verify.as_view(), name="api_verify"),
    # After the dossier: complaints sent, replies, stop-contact notices (complaints/followup_api.py).
    path("complaints/", followup_api.ComplaintListCreate.as_view(), name="api_complaints"),
    path("complaints/<int:pk>/", followup_api.ComplaintDetail.as_view(), name="api_complaint"),
    path("complaints/<int:pk>/replies/", followup_api.ReplyCreate.as_view(), name="api_complaint_replies"),
    path(
        "complaints/<int:pk>/escalate",
        followup_api.ComplaintEscalate.as_view(),
        name="api_complaint_escalate",
    ),
    path("notices/", followup_api.NoticeCreate.as_view(), name="api_notices"),
    path("notices/<int:pk>/", followup_api.NoticeDetail.as_view(), name="api_notice"),
    path("notices/<int:pk>/pdf", followup_api.NoticePdf.as_view(), name="api_notice_pdf"),
    path("notices/<int:pk>/sent", followup_api.NoticeSent.as_view(), name="api_notice_sent"),
]
