from django.urls import path

from . import api

urlpatterns = [
    path("account/recovery-codes/", api.RecoveryCodesCreate.as_view(), name="api_recovery_codes"),
    path("account/recover/", api.Recover.as_view(), name="api_recover"),
    path("push/key", api.PushKey.as_view(), name="api_push_key"),
    path("push/subscriptions/", api.PushSubscriptionCreate.as_view(), name="api_push_subscriptions"),
    path("push/subscriptions/<int:pk>/", api.PushSubscriptionDelete.as_view(), name="api_push_subscription"),
]
