from django.urls import path

from . import views

urlpatterns = [
    path("cases/<int:pk>/dossiers/new/", views.dossier_builder, name="dossier_builder"),
    path("dossiers/<int:pk>/", views.dossier_detail, name="dossier_detail"),
    path("dossiers/<int:pk>/status/", views.dossier_status, name="dossier_status"),
    path("dossiers/<int:pk>/pdf/", views.dossier_pdf, name="dossier_pdf"),
    path("dossiers/<int:pk>/bundle/", views.dossier_bundle, name="dossier_bundle"),
    path("dossiers/<int:pk>/reissue/", views.dossier_reissue, name="dossier_reissue"),
    path("verify/", views.verify_page, name="verify"),
]
