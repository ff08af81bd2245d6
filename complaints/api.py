"""Dossier and verification endpoints of API v1 (api-v1.md)."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import idempotent
from config.throttling import wait_message
from core.dates import SupportedDateField
from evidence import shares
from evidence.api import OwnerAPIView, _uploaded_file
from evidence.api_errors import error_response

from . import services
from .letters import request_choices
from .models import Addressee, Dossier, DossierStatus
from .verification import VerificationRefused, verify_upload
from .views import bundle_response, pdf_response, verify_throttled


class DossierSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)

    class Meta:
        model = Dossier
        fields = [
            "id",
            "number",
            "case",
            "addressee",
            "addressee_name",
            "language",
            "date_from",
            "date_to",
            "rule_pack",
            "status",
            "progress",
            "error",
            "seal",
            "pdf_sha256",
            "pages",
            "follows",
            "created_at",
            "drafted_by",
        ]
        read_only_fields = fields

    drafted_by = serializers.SerializerMethodField()

    def get_drafted_by(self, obj) -> str | None:
        """The helper who drafted it (shown until and after the owner issues it), else null."""
        return shares.helper_name(obj.drafted_by) if obj.drafted_by_id else None


class DossierRequestSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    addressee = serializers.ChoiceField(choices=Addressee.choices)
    addressee_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    date_from = SupportedDateField(required=False, allow_null=True, default=None)
    date_to = SupportedDateField(required=False, allow_null=True, default=None)
    rule_pack = serializers.CharField(required=False, max_length=20)
    requests = serializers.ListField(
        child=serializers.ChoiceField(choices=[c for c, _t in request_choices("en")]),
        required=False,
        default=list,
    )
    request_text = serializers.CharField(required=False, allow_blank=True, default="")
    earlier_complaint = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    full_id_number = serializers.BooleanField(required=False, default=False)
    # Where the person lives and takes written replies, the police station a report goes to, and
    # the harm in their words (issue 26; optional, beyond the fixed contract).
    contact_address = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    police_station = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    harm = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    # Earlier complaints logged here (ids) that the letter states: dates, channels, tickets, replies.
    follows = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    incidents = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, default=None
    )


class DossierCreate(OwnerAPIView):
    @idempotent
    def post(self, request):
        serializer = DossierRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # A helper with the assist role drafts; only the owner issues a dossier in their own name.
        case, role = shares.case_with_role(request.user, data["case"], shares.ASSIST)
        dossier = services.dossier_create(
            owner=case.owner,
            drafted_by=request.user if role != shares.OWNER else None,
            case=case,
            addressee=data["addressee"],
            addressee_name=data["addressee_name"],
            language=data["language"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            incident_ids=data["incidents"],
            requests=data["requests"],
            request_text=data["request_text"],
            rule_pack=data.get("rule_pack"),
            earlier_complaint=data["earlier_complaint"],
            full_id_number=data["full_id_number"],
            follows=data["follows"],
            contact_address=data["contact_address"],
            police_station=data["police_station"],
            harm=data["harm"],
        )
        dossier.refresh_from_db()
        code = status.HTTP_201_CREATED if dossier.status == DossierStatus.READY else status.HTTP_202_ACCEPTED
        return Response(DossierSerializer(dossier).data, status=code)


def _dossier(request, pk, need: str = shares.READ) -> Dossier:
    """A dossier of a case the user can see (404 otherwise); 403 when a helper's role is below `need`."""
    dossier = get_object_or_404(
        Dossier.objects.filter(case__in=shares.readable_cases(request.user)).select_related("case"), pk=pk
    )
    shares.case_with_role(request.user, dossier.case_id, need)
    return dossier


def _record(request, dossier: Dossier, action: str) -> None:
    shares.record(
        user=request.user,
        case=dossier.case,
        action=action,
        subject=dossier,
        label=_("Dossier No. %(number)s") % {"number": dossier.number},
    )


class DossierDetail(OwnerAPIView):
    def get(self, request, pk: int):
        dossier = _dossier(request, pk)
        _record(request, dossier, "view_dossier")
        return Response(DossierSerializer(dossier).data)


class DossierIssue(OwnerAPIView):
    """POST: the owner issues a helper's draft (it is then built in the owner's name)."""

    def post(self, request, pk: int):
        dossier = services.dossier_issue_draft(dossier=_dossier(request, pk, shares.OWNER))
        dossier.refresh_from_db()
        code = status.HTTP_201_CREATED if dossier.status == DossierStatus.READY else status.HTTP_202_ACCEPTED
        return Response(DossierSerializer(dossier).data, status=code)


def _issued(request, pk):
    dossier = _dossier(request, pk)
    if not dossier.is_issued:
        return None, error_response(
            "not_ready",
            _("The dossier is not ready yet (status: %(status)s).") % {"status": dossier.status},
            404,
        )
    return dossier, None


class DossierPdf(OwnerAPIView):
    def get(self, request, pk: int):
        dossier, problem = _issued(request, pk)
        if problem:
            return problem
        _record(request, dossier, "download_dossier")
        return pdf_response(dossier)


class DossierBundle(OwnerAPIView):
    def get(self, request, pk: int):
        dossier, problem = _issued(request, pk)
        if problem:
            return problem
        _record(request, dossier, "download_bundle")
        return bundle_response(dossier, api=True)


class Verify(APIView):
    """No login: whoever holds a dossier can check it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        wait = verify_throttled(request)
        if wait is not None:
            response = error_response("throttled", wait_message(wait), status.HTTP_429_TOO_MANY_REQUESTS)
            response["Retry-After"] = str(wait)
            return response
        upload, problem = _uploaded_file(request)
        if problem:
            return problem
        try:
            verdict = verify_upload(upload)
        except VerificationRefused as refused:
            return error_response(refused.code, refused.message, refused.status)
        return Response(verdict.as_api())


class DossierRetry(OwnerAPIView):
    """POST: build again a dossier that failed or whose build was interrupted; an issued one is
    returned unchanged."""

    def post(self, request, pk: int):
        dossier = services.dossier_retry(dossier=_dossier(request, pk, shares.OWNER))
        code = status.HTTP_200_OK if dossier.status == DossierStatus.READY else status.HTTP_202_ACCEPTED
        return Response(DossierSerializer(dossier).data, status=code)
