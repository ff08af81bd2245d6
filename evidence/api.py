"""JSON API v1 (api-v1.md): thin views that parse input, call one service and present the result."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F
from django.http import FileResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import idempotent
from accounts.services import profile_for

from . import carrier, selectors, services, shares
from .api_errors import error_response
from .import_jobs import import_is_large, import_state, phone_import_background
from .imports import phone_import_discard, phone_import_prepare, phone_import_run
from .models import Case, Incident, PhoneImport, Provenance, Source
from .selectors import violations_presenter
from .serializers import CaseSerializer, EvidenceSerializer, IncidentSerializer, IncidentUpdateSerializer
from .storage import open_evidence
from .uploads import upload_too_large


class OwnerAPIView(APIView):
    """Answers in the user's time zone and language once the token has named the user."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        profile = profile_for(request.user)
        timezone.activate(profile.tz)
        translation.activate(profile.language)

    def get_serializer_context(self) -> dict:
        return {"request": self.request, "violations": violations_presenter()}


def _uploaded_file(request):
    """The multipart field `file`, or an error response (413 over the limit, 400 when missing)."""
    if upload_too_large(request):
        return None, error_response(
            "file_too_large",
            _("The file is larger than the upload limit."),
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    # Reading FILES runs the upload handlers, which notice an oversized body as it streams in.
    upload = request.FILES.get("file")
    if upload_too_large(request):
        return None, error_response(
            "file_too_large",
            _("The file is larger than the upload limit."),
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if upload is None:
        return None, error_response(
            "invalid",
            _("Send the file as the multipart field 'file'."),
            400,
            {"file": [_("This field is required.")]},
        )
    return upload, None


def case_data(case, role: str) -> dict:
    return {**CaseSerializer(case).data, "role": role}


class CaseListCreate(OwnerAPIView):
    def get(self, request):
        """The user's own cases and those shared with them, each with the user's role."""
        roles = shares.roles_by_case(request.user)
        cases = shares.readable_cases(request.user).order_by("-created_at")
        return Response({"results": [case_data(case, roles.get(case.pk, shares.OWNER)) for case in cases]})

    @idempotent
    def post(self, request):
        serializer = CaseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case = services.case_create(owner=request.user, **serializer.validated_data)
        return Response(case_data(case, shares.OWNER), status=status.HTTP_201_CREATED)


class CaseDetail(OwnerAPIView):
    def get(self, request, pk: int):
        case, role = shares.case_with_role(request.user, pk)
        shares.record(user=request.user, case=case, action="view_case", subject=case, label=case.title)
        return Response(case_data(case, role))


def _case_from_body(request, value, need: str = shares.OWNER):
    """The case named in the body: 404 unless the user can see it, 403 when a helper's role is below
    `need`, None when the value is no id."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return shares.case_with_role(request.user, pk, need)[0]


def _file_and_case(request):
    """The multipart `file` and the owner's case named by `case`, or an error response."""
    upload, problem = _uploaded_file(request)
    if problem:
        return None, None, problem
    case = _case_from_body(request, request.data.get("case"))
    if case is None:
        return (
            None,
            None,
            error_response(
                "invalid", _("'case' must be a case id."), 400, {"case": [_("A valid integer is required.")]}
            ),
        )
    return upload, case, None


class IncidentListCreate(OwnerAPIView):
    def get(self, request):
        incidents = Incident.objects.filter(case__in=shares.readable_cases(request.user))
        if "case" in request.query_params:
            case = _case_from_body(request, request.query_params["case"], shares.READ)
            if case is None:
                return error_response(
                    "invalid",
                    _("'case' must be a case id."),
                    400,
                    {"case": [_("A valid integer is required.")]},
                )
            incidents = incidents.filter(case=case)
            shares.record(
                user=request.user, case=case, action="list_incidents", subject=case, label=case.title
            )
        else:
            # Every shared case whose incidents are listed is a look on its owner's record.
            for shared in Case.objects.filter(pk__in=shares.roles_by_case(request.user)):
                shares.record(
                    user=request.user,
                    case=shared,
                    action="list_incidents",
                    subject=shared,
                    label=shared.title,
                )
        # Contacts only: the person's own actions (an export imported, a notice sent) are the
        # case's activity (GET /api/v1/cases/<id>/activity/).
        incidents = selectors.contacts_only(incidents)
        incidents = selectors.incidents_with_evidence(
            incidents.order_by(F("occurred_at").asc(nulls_last=True), "id")
        )
        data = IncidentSerializer(incidents, many=True, context=self.get_serializer_context()).data
        return Response({"results": data})

    @idempotent
    def post(self, request):
        serializer = IncidentSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        case = _case_from_body(request, fields.pop("case_id"), shares.ASSIST)
        helper = request.user if case.owner_id != request.user.pk else None
        # The same real event as one already logged (a recording filed first, the call log
        # imported): that incident gains the source and is returned; nothing is duplicated.
        # A helper's entry is always its own row, marked as theirs.
        incident, created = services.incident_log(case=case, source=Source.API, entered_by=helper, **fields)
        shares.record(
            user=request.user,
            case=case,
            action="create_incident",
            subject=incident,
            label=incident_label(incident),
        )
        return Response(
            IncidentSerializer(incident, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class IncidentDetail(OwnerAPIView):
    def get(self, request, pk: int):
        incident = get_object_or_404(
            selectors.incidents_with_evidence(
                Incident.objects.filter(case__in=shares.readable_cases(request.user))
            ),
            pk=pk,
        )
        shares.record(
            user=request.user,
            case=incident.case,
            action="view_incident",
            subject=incident,
            label=incident_label(incident),
        )
        return Response(IncidentSerializer(incident, context=self.get_serializer_context()).data)

    def patch(self, request, pk: int):
        incident = shares.incident_with_role(request.user, pk, shares.OWNER)[0]
        serializer = IncidentUpdateSerializer(
            incident, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        incident = services.incident_update(incident=incident, **serializer.validated_data)
        return Response(IncidentSerializer(incident, context=self.get_serializer_context()).data)


class IncidentEvidenceCreate(OwnerAPIView):
    @idempotent
    def post(self, request, pk: int):
        incident = shares.incident_with_role(request.user, pk, shares.ASSIST)[0]
        upload, problem = _uploaded_file(request)
        if problem:
            return problem
        evidence = services.evidence_store(incident=incident, upload=upload, provenance=Provenance.UPLOADED)
        shares.record(
            user=request.user,
            case=incident.case,
            action="upload",
            subject=evidence,
            label=evidence_label(evidence),
        )
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)


class EvidenceAutofile(OwnerAPIView):
    """One-tap upload for phone automation: the server finds or creates the incident."""

    @idempotent
    def post(self, request):
        upload, case, problem = _file_and_case(request)
        if problem:
            return problem
        evidence = services.evidence_autofile(case=case, upload=upload)
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)


class EvidenceDetail(OwnerAPIView):
    def get(self, request, pk: int):
        evidence = shares.evidence_with_role(request.user, pk)[0]
        shares.record(
            user=request.user,
            case=evidence.incident.case,
            action="view_evidence",
            subject=evidence,
            label=evidence_label(evidence),
        )
        return Response(EvidenceSerializer(evidence).data)


class EvidenceDownload(OwnerAPIView):
    def get(self, request, pk: int):
        evidence = shares.evidence_with_role(request.user, pk)[0]
        shares.record(
            user=request.user,
            case=evidence.incident.case,
            action="download",
            subject=evidence,
            label=evidence_label(evidence),
        )
        return evidence_file_response(evidence, as_attachment=True)


def incident_label(incident) -> str:
    """How the access log names an incident: its evidence number and kind."""
    return " ".join(part for part in (incident.ref, str(incident.get_kind_display())) if part)


def evidence_label(evidence) -> str:
    return " ".join(part for part in (evidence.incident.ref, evidence.original_name) if part)


def evidence_file_response(evidence, *, as_attachment: bool) -> FileResponse:
    """The stored bytes, streamed through the storage API, never from a public URL."""

    if (
        as_attachment
        and settings.EVIDENCE_S3_PRESIGNED_DOWNLOADS
        and hasattr(default_storage, "presigned_url")
    ):
        # The owner check has passed; the bytes come straight from the store, for a few minutes.
        return HttpResponseRedirect(
            default_storage.presigned_url(
                evidence.storage_name, evidence.storage_version, evidence.original_name
            )
        )
    response = FileResponse(
        open_evidence(evidence),
        as_attachment=as_attachment,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    response["Content-Length"] = str(evidence.size)
    response["X-Content-SHA256"] = evidence.sha256
    response["Cache-Control"] = "private, no-store"
    return response


def api_not_found(request, *args, **kwargs):
    """Unknown API paths answer in the API's error shape, not with an HTML page."""

    return JsonResponse({"error": {"code": "not_found", "message": _("No such API endpoint.")}}, status=404)


def _carrier_mapping(request, upload):
    """The `mapping` field (JSON text or an object), else the one remembered for this file's header
    row; (mapping or None, error response or None)."""
    raw = request.data.get("mapping")
    if raw in (None, ""):
        headers = carrier.offer_headers(upload)
        return (carrier.remembered_mapping(owner=request.user, headers=headers) if headers else None), None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        return carrier.clean_mapping(value), None
    except (ValueError, TypeError) as exc:
        message = (
            str(exc) if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError) else ""
        )
        message = message or _("The mapping must be JSON: an object of column header → field.")
        return None, error_response("invalid", message, status.HTTP_400_BAD_REQUEST, {"mapping": [message]})


class PhoneLogImport(OwnerAPIView):
    """POST /api/v1/imports/: a calls.xml, sms.xml or iMazing CSV, imported in one step."""

    @idempotent
    def post(self, request):

        upload, case, problem = _file_and_case(request)
        if problem:
            return problem
        numbers = [n.strip() for n in (request.data.get("numbers") or "").split(",") if n.strip()] or None
        kinds = [k.strip() for k in (request.data.get("kinds") or "").split(",") if k.strip()] or None
        # "dmy" or "mdy": how to read dates such as 02/06/17 when the file does not show its order.
        date_order = str(request.data.get("date_order") or "").strip() or None
        # Entries before the case's period (the debt's start) are left out unless asked for.
        include_before_period = str(request.data.get("include_before_period") or "").strip().lower() in (
            "true",
            "1",
            "yes",
            "on",
        )
        # A carrier's call record: {column header: number | start | duration | direction | type},
        # sent once for columns that were not recognised and remembered for that header row.
        mapping, problem = _carrier_mapping(request, upload)
        if problem:
            return problem
        try:
            phone_import = phone_import_prepare(case=case, upload=upload, preview=False, mapping=mapping)
        except services.EvidenceRejected as exc:
            headers = carrier.offer_headers(upload) if exc.status == 400 else None
            if not headers:
                raise
            # Columns not recognised: say which there are, so the caller can send a mapping.
            response = error_response(exc.code, exc.message, exc.status, {"mapping": [exc.message]})
            response.data["error"]["headers"] = headers
            return response
        if import_is_large(phone_import=phone_import, upload=upload):
            # Too large to import in the request: a background job the caller polls (202).
            if mapping and phone_import.format in ("carrier_xlsx", "carrier_csv"):
                carrier.mapping_remember(
                    owner=request.user, headers=carrier.offer_headers(upload) or [], mapping=mapping
                )
            job = phone_import_background(
                phone_import=phone_import,
                numbers=numbers,
                kinds=kinds,
                date_order=date_order,
                mapping=mapping,
                include_before_period=include_before_period,
            )
            return Response(
                {
                    "id": job.pk,
                    "status": job.status,
                    "import": job.pk,
                    "format": job.format,
                    "export_sha256": job.sha256,
                },
                status=status.HTTP_202_ACCEPTED,
            )
        try:
            counts = phone_import_run(
                phone_import=phone_import,
                numbers=numbers,
                kinds=kinds,
                date_order=date_order,
                include_before_period=include_before_period,
            )
        except Exception:
            # Nothing was imported: the row goes, and the export too unless evidence or an earlier
            # import keeps the same bytes.
            phone_import_discard(phone_import=phone_import)
            raise
        if mapping and phone_import.format in ("carrier_xlsx", "carrier_csv"):
            carrier.mapping_remember(
                owner=request.user, headers=carrier.offer_headers(upload) or [], mapping=mapping
            )
        return Response(
            {
                **counts,
                "id": phone_import.pk,
                "import": phone_import.pk,
                "format": phone_import.format,
                "export_sha256": phone_import.sha256,
            },
            status=status.HTTP_201_CREATED,
        )


class PhoneLogImportDetail(OwnerAPIView):
    """GET /api/v1/imports/<id>/: an import's state; poll a background import until "done"."""

    def get(self, request, pk: int):
        phone_import = get_object_or_404(PhoneImport.objects.filter(owner=request.user), pk=pk)
        return Response(import_state(phone_import))
