"""Account endpoints of API v1 (api-v1.md, third wave): recovery codes and recovery without e-mail,
and Web Push subscriptions for reminders. Thin: parse, call one service, answer."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import wait_message

from . import push, services
from .models import PushSubscription
from .throttles import recover_failed, recover_wait


def _error(code: str, message: str, http_status: int, fields: dict | None = None) -> Response:
    body: dict = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = {name: [str(m) for m in messages] for name, messages in fields.items()}
    return Response({"error": body}, status=http_status)


def _too_many(seconds: int) -> Response:
    response = _error("throttled", wait_message(seconds), status.HTTP_429_TOO_MANY_REQUESTS)
    response["Retry-After"] = str(seconds)
    return response


class AccountAPIView(APIView):
    """Answers in the user's time zone and language (like evidence.api.OwnerAPIView, which sits
    above this app)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        profile = services.profile_for(request.user)
        timezone.activate(profile.tz)
        translation.activate(profile.language)


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False)


class RecoveryCodesCreate(AccountAPIView):
    """POST {"password"} → 201 {"codes": [10 strings]}; the earlier codes stop working. A wrong
    password → 400 and nothing changes; attempts count like logins."""

    def post(self, request):
        if (wait := recover_wait(request, request.user.get_username())) is not None:
            return _too_many(wait)
        serializer = PasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not request.user.check_password(serializer.validated_data["password"]):
            recover_failed(request, request.user.get_username())
            return _error(
                "invalid",
                _("Some fields are not valid."),
                400,
                {"password": [_("The password is not correct.")]},
            )
        codes = services.recovery_codes_create(user=request.user)
        return Response({"codes": codes}, status=status.HTTP_201_CREATED)


class RecoverSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    code = serializers.CharField(max_length=64)
    new_password = serializers.CharField(trim_whitespace=False, max_length=4096)


class Recover(APIView):
    """POST {"username", "code", "new_password"} without logging in → 200; the code is spent. A
    wrong or spent code → 400. Throttled like the login (LOGIN_RATE per address and per account
    and address)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        username = str(request.data.get("username") or "") if hasattr(request.data, "get") else ""
        if (wait := recover_wait(request, username)) is not None:
            return _too_many(wait)
        serializer = RecoverSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            user = services.account_recover(
                username=data["username"], code=data["code"], new_password=data["new_password"]
            )
        except ValidationError as exc:
            if "code" in getattr(exc, "error_dict", {}):
                recover_failed(request, username)
            raise
        return Response(
            {"username": user.get_username(), "codes_left": services.recovery_codes_left(user=user)},
            status=status.HTTP_200_OK,
        )


# --- Web Push ------------------------------------------------------------------------------------------


class PushKey(APIView):
    """GET → {"public_key"}: the server's VAPID key (base64url), for PushManager.subscribe()."""

    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"public_key": push.vapid_public_key()})


class SubscriptionKeys(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class SubscriptionSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1000)
    keys = SubscriptionKeys()


def subscription_payload(subscription: PushSubscription) -> dict:
    return {
        "id": subscription.pk,
        "endpoint": subscription.endpoint,
        "created_at": subscription.created_at.isoformat(),
    }


class PushSubscriptionCreate(AccountAPIView):
    """POST {"endpoint", "keys": {"p256dh", "auth"}} → 201; the same endpoint again updates its keys."""

    def post(self, request):
        serializer = SubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription = push.subscription_save(
            user=request.user,
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
        )
        return Response(subscription_payload(subscription), status=status.HTTP_201_CREATED)

    def get(self, request):
        subscriptions = PushSubscription.objects.filter(user=request.user).order_by("pk")
        return Response({"results": [subscription_payload(s) for s in subscriptions]})


class PushSubscriptionDelete(AccountAPIView):
    """DELETE → 204; another user's subscription is a 404."""

    def delete(self, request, pk: int):
        subscription = get_object_or_404(PushSubscription, user=request.user, pk=pk)
        push.subscription_delete(subscription=subscription)
        return Response(status=status.HTTP_204_NO_CONTENT)
