from django.urls import path

from . import api

urlpatterns = [
    path("dossiers/", api.DossierCreate.as_view(), name="api_dossiers"),
    path("dossiers/<int:pk>/", api.DossierDetail.as_view(), name="api_dossier"),
    path("dossiers/<int:pk>/pdf", api.DossierPdf.as_view(), name="api_dossier_pdf"),
    path("dossiers/<int:pk>/bundle", api.DossierBundle.as_view(), name="api_dossier_bundle"),
    path("dossiers/<int:pk>/retry", api.DossierRetry.as_view(), name="api_dossier_retry"),
    path("verify/", api.Verify.as_view(), name="api_verify"),
]
