from django.urls import path

from . import views

urlpatterns = [
    path("account/export/", views.export_list, name="export_list"),
    path("account/export/<int:pk>/", views.export_detail, name="export_detail"),
    path("account/export/<int:pk>/status", views.export_status, name="export_status"),
    path("account/export/<int:pk>/download", views.export_download, name="export_download"),
    path("account/delete/", views.account_delete, name="account_delete"),
    path("cases/<int:pk>/hold/", views.case_hold, name="case_hold"),
    path("cases/<int:pk>/release/", views.case_release, name="case_release"),
    path("cases/<int:pk>/delete/", views.case_delete, name="case_delete"),
]
