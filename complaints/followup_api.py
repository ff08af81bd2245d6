"""API v1 for what follows a dossier (api-v1.md, second wave): complaints sent and their replies,
stop-contact notices, and escalation."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.idempotency import idempotent
from core.dates import SupportedDateTimeField
from evidence import shares
from evidence.api import OwnerAPIView, _uploaded_file
from evidence.serializers import EvidenceSerializer

from . import followup, notices
from .api import DossierSerializer
from .models import Addressee, AllowedChannel, Channel, Complaint, Dossier, DossierStatus, Outcome, StopNotice


class ReplySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    received_at = SupportedDateTimeField()
    text = serializers.CharField(max_length=10_000)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    evidence = EvidenceSerializer(read_only=True)


def complaint_data(complaint: Complaint) -> dict:
    state = followup.standing(complaint)
    return {
        "id": complaint.pk,
        "case": complaint.case_id,
        "addressee": complaint.addressee,
        "addressee_name": complaint.addressee_name,
        "channel": complaint.channel,
        "sent_at": serializers.DateTimeField().to_representation(complaint.sent_at),
        "ticket_number": complaint.ticket_number,
        "dossier": complaint.dossier_id,
        "deadline": complaint.deadline,
        "reply_due": state.due.isoformat(),
        "days_left": state.days_left,
        "statutory": state.statutory,
        "deadline_source": state.source,
        "status": state.status,
        "replies": ReplySerializer(complaint.replies.all(), many=True).data,
    }


class ComplaintRequestSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    addressee = serializers.ChoiceField(choices=Addressee.choices)
    addressee_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    channel = serializers.ChoiceField(choices=Channel.choices)
    sent_at = SupportedDateTimeField()
    ticket_number = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    dossier = serializers.IntegerField(required=False, allow_null=True, default=None)
    deadline = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")


class ComplaintListCreate(OwnerAPIView):
    def get(self, request):
        complaints = Complaint.objects.filter(case__in=shares.readable_cases(request.user)).prefetch_related(
            "replies"
        )
        if request.query_params.get("case"):
            complaints = complaints.filter(
                case=shares.case_with_role(request.user, request.query_params["case"])[0]
            )
        return Response({"results": [complaint_data(c) for c in complaints]})

    @idempotent
    def post(self, request):
        serializer = ComplaintRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # A helper with the assist role may log a complaint the person made.
        case = shares.case_with_role(request.user, data["case"], shares.ASSIST)[0]
        dossier = (
            get_object_or_404(Dossier.objects.filter(case=case), pk=data["dossier"])
            if data["dossier"]
            else None
        )
        complaint = followup.complaint_log(
            owner=case.owner,
            case=case,
            addressee=data["addressee"],
            addressee_name=data["addressee_name"],
            channel=data["channel"],
            sent_at=data["sent_at"],
            ticket_number=data["ticket_number"],
            dossier=dossier,
            deadline=data["deadline"],
        )
        shares.record(
            user=request.user,
            case=case,
            action="log_complaint",
            subject=complaint,
            label=str(complaint.get_addressee_display()),
        )
        return Response(complaint_data(complaint), status=status.HTTP_201_CREATED)


def _complaint(request, pk, need: str = shares.READ) -> Complaint:
    complaint = get_object_or_404(
        Complaint.objects.filter(case__in=shares.readable_cases(request.user)).select_related("case"), pk=pk
    )
    shares.case_with_role(request.user, complaint.case_id, need)
    return complaint


class ComplaintUpdateSerializer(serializers.Serializer):
    deadline = serializers.CharField(required=False, max_length=20)
    ticket_number = serializers.CharField(required=False, allow_blank=True, max_length=100)
    closed = serializers.BooleanField(required=False)


class ComplaintDetail(OwnerAPIView):
    def get(self, request, pk: int):
        return Response(complaint_data(_complaint(request, pk)))

    def patch(self, request, pk: int):
        """Choose the extended deadline the institution announced, add a ticket number, close."""
        serializer = ComplaintUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        complaint = followup.complaint_update(
            complaint=_complaint(request, pk, shares.ASSIST), **serializer.validated_data
        )
        return Response(complaint_data(complaint))


class ReplyCreate(OwnerAPIView):
    """JSON, or multipart with a `file` (a screenshot of the reply, a recording of the call back)."""

    @idempotent
    def post(self, request, pk: int):
        complaint = _complaint(request, pk, shares.ASSIST)
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = None
        if "file" in request.FILES:
            upload, problem = _uploaded_file(request)
            if problem:
                return problem
        reply = followup.reply_log(complaint=complaint, upload=upload, **serializer.validated_data)
        shares.record(
            user=request.user,
            case=complaint.case,
            action="log_reply",
            subject=complaint,
            label=str(complaint.get_addressee_display()),
        )
        return Response(ReplySerializer(reply).data, status=status.HTTP_201_CREATED)


class ComplaintEscalate(OwnerAPIView):
    """POST {"addressee": optional, "language": optional}: the next step's dossier, following every
    complaint of the case and stating the contacts after the written notice."""

    def post(self, request, pk: int):
        complaint = _complaint(request, pk, shares.OWNER)
        language = request.data.get("language") or None
        if language is not None and language not in dict(settings.LANGUAGES):
            language = None
        dossier = followup.complaint_escalate(
            complaint=complaint, addressee=request.data.get("addressee") or "", language=language
        )
        dossier.refresh_from_db()
        code = status.HTTP_201_CREATED if dossier.status == DossierStatus.READY else status.HTTP_202_ACCEPTED
        return Response(DossierSerializer(dossier).data, status=code)


# --- stop-contact notices ----------------------------------------------------------------------------


def notice_data(notice: StopNotice) -> dict:
    stamp = serializers.DateTimeField()
    return {
        "id": notice.pk,
        "case": notice.case_id,
        "number": notices.notice_number(notice),
        "language": notice.language,
        "allowed_channel": notice.allowed_channel,
        "allowed_hours": f"{notice.hours_from:%H:%M}-{notice.hours_until:%H:%M}",
        "seal": notice.seal,
        "pdf_sha256": notice.pdf_sha256,
        "text": notice.text,
        "created_at": stamp.to_representation(notice.created_at),
        "sent_at": stamp.to_representation(notice.sent_at) if notice.sent_at else None,
        "sent_channel": notice.sent_channel or None,
        "proof": notice.proof_id,
    }


class NoticeRequestSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    allowed_channel = serializers.ChoiceField(
        choices=AllowedChannel.choices, default=AllowedChannel.APP_MESSAGE
    )
    allowed_hours = serializers.CharField(required=False, max_length=20, default="")
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)

    def validate_allowed_hours(self, value: str):
        if not value:
            return None
        try:
            return notices.parse_hours(value)
        except ValueError:
            raise serializers.ValidationError(_("Give the hours as HH:MM-HH:MM, e.g. 09:00-20:00.")) from None


class NoticeCreate(OwnerAPIView):
    @idempotent
    def post(self, request):
        serializer = NoticeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        notice = notices.notice_create(
            owner=request.user,
            case=shares.case_with_role(request.user, data["case"], shares.OWNER)[0],
            allowed_channel=data["allowed_channel"],
            allowed_hours=data["allowed_hours"],
            language=data.get("language"),
        )
        return Response(notice_data(notice), status=status.HTTP_201_CREATED)


def _notice(request, pk, need: str = shares.READ) -> StopNotice:
    notice = get_object_or_404(
        StopNotice.objects.filter(case__in=shares.readable_cases(request.user)).select_related("case"), pk=pk
    )
    shares.case_with_role(request.user, notice.case_id, need)
    return notice


class NoticeDetail(OwnerAPIView):
    def get(self, request, pk: int):
        return Response(notice_data(_notice(request, pk)))


class NoticePdf(OwnerAPIView):
    def get(self, request, pk: int):
        return notice_pdf_response(_notice(request, pk))


def notice_pdf_response(notice: StopNotice) -> FileResponse:
    return FileResponse(
        default_storage.open(notice.pdf_name, "rb"),
        as_attachment=True,
        filename=f"{notices.notice_number(notice)}.pdf",
        content_type="application/pdf",
    )


class NoticeSentSerializer(serializers.Serializer):
    sent_at = SupportedDateTimeField()
    channel = serializers.ChoiceField(choices=Channel.choices)


class NoticeSent(OwnerAPIView):
    """POST {"sent_at", "channel"} (JSON, or multipart with a `file`: the screenshot or recording
    that shows it was sent) → 200 notice."""

    def post(self, request, pk: int):
        notice = _notice(request, pk, shares.OWNER)
        serializer = NoticeSentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = None
        if "file" in request.FILES:
            upload, problem = _uploaded_file(request)
            if problem:
                return problem
        notices.notice_mark_sent(notice=notice, proof=upload, **serializer.validated_data)
        return Response(notice_data(notice))
