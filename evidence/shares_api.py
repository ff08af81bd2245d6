"""JSON API for sharing a case with a helper (api-v1.md, third wave: Helpers)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from rest_framework import serializers, status
from rest_framework.response import Response

from core.dates import SupportedDateTimeField

from . import shares
from .api import OwnerAPIView
from .models import CaseShare, ShareRole


class ShareRequestSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ShareRole.choices)
    expires_at = SupportedDateTimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class AcceptSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)


def accept_url(request, code: str) -> str:
    return request.build_absolute_uri(reverse("share_accept")) + f"?code={shares.format_code(code)}"


def share_data(share: CaseShare, *, request=None, code: str | None = None) -> dict:
    data = {
        "id": share.pk,
        "case": share.case_id,
        "role": share.role,
        "note": share.note,
        "state": share.state,
        "created_at": share.created_at,
        "expires_at": share.expires_at,
        "accepted_at": share.accepted_at,
        "revoked_at": share.revoked_at,
        "helper": shares.helper_name(share.helper) if share.helper_id else None,
        "code_prefix": share.code_prefix,
    }
    if code is not None:
        data["code"] = shares.format_code(code)
        data["url"] = accept_url(request, code)
    return data


class CaseShares(OwnerAPIView):
    """GET: the case's shares with their state; POST: a new invitation (the owner only)."""

    def get(self, request, pk: int):
        case, _role = shares.case_with_role(request.user, pk, shares.OWNER)
        return Response({"results": [share_data(share) for share in shares.shares_of(case)]})

    def post(self, request, pk: int):
        case, _role = shares.case_with_role(request.user, pk, shares.OWNER)
        serializer = ShareRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        share, code = shares.share_create(case=case, **serializer.validated_data)
        return Response(share_data(share, request=request, code=code), status=status.HTTP_201_CREATED)


class ShareAccept(OwnerAPIView):
    def post(self, request):
        serializer = AcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        share = shares.share_accept(helper=request.user, code=serializer.validated_data["code"])
        return Response({"case": share.case_id, "role": share.role, "share": share.pk})


class ShareDetail(OwnerAPIView):
    def delete(self, request, pk: int):
        share = get_object_or_404(CaseShare.objects.select_related("case"), pk=pk)
        # A helper may see the case, but the share is the owner's to end: others get 404.
        if share.case.owner_id != request.user.pk:
            role = shares.role_on(request.user, share.case)
            if role is None:
                return Response(
                    {"error": {"code": "not_found", "message": str(shares.not_found_message())}}, status=404
                )
            raise shares.ShareForbidden(shares.owner_only_message())
        shares.share_revoke(share=share)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseAccessLog(OwnerAPIView):
    def get(self, request, pk: int):
        case, _role = shares.case_with_role(request.user, pk, shares.OWNER)
        return Response({"results": shares.access_log(case)})
