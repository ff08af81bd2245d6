"""Pages for people. Each view opens with an ownership-checked lookup, calls a service, renders."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import BigIntegerField, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.http import Http404, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.forms import TokenForm
from accounts.idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER, Answer, form_once, run_once
from accounts.services import token_create
from core.dates import in_supported_range
from ledger.models import AuditEvent

from . import carrier, file_times, merging, proposals, selectors, services, shares, sharing
from .api import evidence_file_response
from .api_errors import storage_unavailable_message
from .forms import (
    CarrierMappingForm,
    CaseForm,
    ImportChoiceForm,
    ImportUploadForm,
    IncidentForm,
    ProposalForm,
    TimelineFilterForm,
)
from .import_jobs import import_is_large, import_note, import_state, phone_import_background
from .imports import phone_import_prepare, phone_import_run
from .models import DEFAULT_LENDERS, Case, EvidenceFile, Incident, IncidentKind, PhoneImport, Source
from .phone_logs import implausible_note
from .recognition import recognized_row
from .selectors import violations_presenter
from .sniffing import ACCEPTED_DESCRIPTION
from .storage import storage_outage
from .thumbnails import thumbnail_for
from .uploads import upload_too_large

TIMELINE_PAGE_SIZE = 50
ACCEPT_ATTRIBUTE = "audio/*,image/*,application/pdf,.amr,.awb,.3gp,.m4a,.mp3,.opus,.ogg,.wav,.webm,.heic,.pdf"


def home(request):
    if request.user.is_authenticated:
        return redirect("case_list")
    return render(request, "evidence/home.html")


# --- cases -------------------------------------------------------------------------------------


@login_required
def case_list(request):
    cases = list(Case.objects.for_owner(request.user))
    for case in cases:
        # Contacts only, not the entries of the person's own actions (a few cases per person).
        case.incident_count = case.incidents.contacts(case).count()
    # Cases other people shared with this user (a lawyer's, a volunteer's view).
    roles = shares.roles_by_case(request.user)
    shared = [
        {"case": case, "role": roles[case.pk], "owner": shares.helper_name(case.owner)}
        for case in Case.objects.filter(pk__in=roles).select_related("owner")
    ]
    return render(
        request,
        "evidence/case_list.html",
        {
            "shared": shared,
            "cases": cases,
            "storage_used": services.storage_used(owner=request.user),
            "quota": settings.EVIDENCE_QUOTA_BYTES,
        },
    )


@login_required
def case_create(request):
    form = CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if not data.get("lender_name"):
            data["lender_name"] = DEFAULT_LENDERS.get(data["creditor"], "")

        def create() -> str:
            case = services.case_create(owner=request.user, **data)
            messages.success(request, _("Case created. Log what happened, newest first."))
            return reverse("case_detail", args=[case.pk])

        try:
            # The same form posted twice (Back + Save, a double tap) creates one case.
            location, first = form_once(user=request.user, token=form.once_token, create=create)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if not first:
                messages.info(request, _("This form had already been saved; nothing was saved twice."))
            return redirect(location)
    return render(request, "form.html", {"form": form, "title": _("New case"), "submit": _("Create")})


@login_required
def case_edit(request, pk: int):
    case = selectors.case_for(request.user, pk)
    form = CaseForm(request.POST or None, instance=case)
    if request.method == "POST" and form.is_valid():
        # The form wrote onto the instance; the service validates, saves and records before/after.
        case.refresh_from_db()
        try:
            services.case_update(case=case, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Case saved."))
            return redirect("case_detail", pk=case.pk)
    return render(request, "form.html", {"form": form, "title": _("Edit case"), "submit": _("Save")})


@login_required
def case_detail(request, pk: int):
    """The case timeline: newest first, filtered by kind and dates, paginated, counts per kind.
    A helper sees it too (read or assist), and the look is recorded on the owner's chain."""
    case, role = shares.case_with_role(request.user, pk)
    shares.record(user=request.user, case=case, action="view_case", subject=case, label=case.title)
    filters = TimelineFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    incidents = selectors.incident_timeline(
        case=case,
        kind=criteria.get("kind", ""),
        date_from=criteria.get("date_from"),
        date_to=criteria.get("date_to"),
        tz=timezone.get_current_timezone(),
        violations_only=criteria.get("violations", False),
        rule=criteria.get("rule", ""),
        q=criteria.get("q", ""),
    )
    page = Paginator(incidents.select_related("case"), TIMELINE_PAGE_SIZE).get_page(request.GET.get("page"))
    presenter = violations_presenter()
    page.object_list = list(page.object_list)
    selectors.attach_evidence_counts(page.object_list)
    for incident in page.object_list:
        incident.shown_violations = presenter(incident)
    query = request.GET.copy()
    query.pop("page", None)
    counts = selectors.kind_counts(case=case)
    return render(
        request,
        "evidence/case_detail.html",
        {
            "case": case,
            "page": page,
            "filters": filters,
            "counts": counts,
            # An empty case leads with logging (a call first); the dossier builder becomes the main
            # action once there is something to put in it.
            "has_contacts": any(count for _kind, _label, count in counts),
            "kinds": IncidentKind.choices,
            "query": query.urlencode(),
            "violation_summary": selectors.violation_summary(case=case),
            "active_rule": criteria.get("rule", ""),
            # Entries whose time could not be read from their file: the person sets each one.
            "time_to_confirm": case.incidents.filter(occurred_at__isnull=True).order_by("logged_at", "id")[
                :50
            ],
            "deleted": _deleted_items(request.user if role == shares.OWNER else case.owner, case),
            "role": role,
            "owner_name": shares.helper_name(case.owner) if role != shares.OWNER else "",
        },
    )


def short_sha(digest: str) -> str:
    """A fingerprint as a message shows it: its first 12 characters, enough to recognise it; the
    whole 64 are on the incident page and in every dossier."""
    return f"{digest[:12]}…"


def _deleted_items(owner, case) -> list[dict]:
    """What was deleted from this case, read from its audit records: an incident with the facts it
    had, a file with its name and SHA-256. Deleting never hides that something was there."""
    # Only deletion records are read (by action), and the case's incidents as a subquery: a case of
    # 100,000 incidents never puts its ids in the query.
    # The file's incident id is read out of the JSON as a number (PostgreSQL compares jsonb with
    # a bigint subquery only through a cast).
    events = (
        AuditEvent.objects.filter(owner=owner, action__in=("incident.delete", "evidence.delete"))
        .annotate(file_incident=Cast(KT("payload__before__incident"), BigIntegerField()))
        .filter(
            Q(action="incident.delete", payload__case=case.pk)
            | Q(action="evidence.delete", file_incident__in=case.incidents.values("pk"))
        )
    )
    rows = []
    for event in events.order_by("-seq")[:50]:
        before = event.payload.get("before") or {}
        if event.action == "incident.delete":
            kind = before.get("kind")
            rows.append(
                {
                    "event": event,
                    "what": IncidentKind(kind).label if kind in IncidentKind.values else _("Incident"),
                    "when": before.get("occurred_at"),
                    "detail": before.get("counterpart_number") or (before.get("description") or "")[:60],
                    "files": [f.get("original_name", "") for f in event.payload.get("evidence") or []],
                }
            )
        else:
            rows.append(
                {
                    "event": event,
                    "what": _("File"),
                    "detail": before.get("original_name", ""),
                    "sha256": before.get("sha256", ""),
                    "incident": before.get("incident"),
                }
            )
    return rows


# --- incidents ---------------------------------------------------------------------------------


@login_required
def incident_create(request, pk: int, kind: str):
    # A helper with the assist role logs too; the entry is marked as theirs.
    case, role = shares.case_with_role(request.user, pk, shares.ASSIST)
    helper = request.user if role != shares.OWNER else None
    if kind not in IncidentKind.values:
        raise Http404
    if request.method == "POST" and request.POST.get("time_from_file"):
        # The page asks what time a file chosen in the form states (static/js/app.js): its name,
        # or an image's EXIF from its first bytes. Nothing is saved.
        return JsonResponse(
            file_times.offer(
                name=request.POST.get("name", ""),
                head=request.FILES.get("head"),
                tz=timezone.get_current_timezone(),
            )
        )
    initial = {"occurred_at": timezone.localtime().replace(microsecond=0, tzinfo=None)}
    posted = request.method == "POST"
    data, files = (request.POST, request.FILES) if posted else (None, None)
    form = IncidentForm(data, files, kind=kind, initial=initial, attach=True)
    form.fields["attachment"].widget.attrs.update(
        {
            "accept": ACCEPT_ATTRIBUTE,
            "data-time-url": request.path,
            "data-max-bytes": settings.EVIDENCE_MAX_UPLOAD_BYTES,
            "data-too-large": _("The file is larger than the upload limit."),
        }
    )
    if posted and upload_too_large(request):
        form.add_error("attachment", _("The file is larger than the upload limit."))
    same = None
    if posted and form.is_valid():
        upload = form.cleaned_data.get("attachment")

        def log() -> str:
            if helper is not None:
                incident = services.incident_create(
                    case=case, kind=kind, entered_by=helper, **form.incident_fields()
                )
                shares.record(
                    user=helper,
                    case=case,
                    action="create_incident",
                    subject=incident,
                    label=" ".join(p for p in (incident.ref, str(incident.get_kind_display())) if p),
                )
                messages.success(request, _("Logged, marked as entered by you as a helper."))
                return reverse("incident_detail", args=[incident.pk])
            if request.POST.get("log_anyway") != "1":
                # One real call, one row: an entry that looks like a call or message already logged
                # is not saved until the person says it is a different one. (Checked here, after the
                # one-time token: the same form sent twice is answered as already saved.)
                fields = form.incident_fields()
                found = merging.same_call(
                    case=case,
                    kind=kind,
                    at=fields.get("occurred_at"),
                    duration=fields.get("duration_seconds"),
                    number=fields.get("counterpart_number", ""),
                    strict=False,
                )
                if found is not None:
                    raise _SameCall(found)
            # A visit described under the in-page recorder: its recording (sent already, or kept on
            # the phone and sent later) and these details are one visit, never two.
            recording_id = request.POST.get("recording_id", "") if kind == IncidentKind.VISIT else ""
            visit = services.visit_for_recording(case=case, recording_id=recording_id)
            if visit is not None:
                incident = services.incident_update(incident=visit, **form.incident_fields())
            else:
                incident = services.incident_create(
                    case=case,
                    kind=kind,
                    source_ref=services.visit_ref(recording_id),
                    **form.incident_fields(),
                )
            messages.success(request, _("Logged. Add recordings or screenshots below."))
            if upload is not None:
                try:
                    evidence = services.evidence_store(incident=incident, upload=upload)
                except (services.EvidenceRejected, ValidationError) as exc:
                    reason = (
                        exc.message if isinstance(exc, services.EvidenceRejected) else " ".join(exc.messages)
                    )
                    messages.error(
                        request,
                        _("The entry is logged, but “%(name)s” was not kept: %(reason)s")
                        % {"name": upload.name, "reason": reason},
                    )
                else:
                    messages.success(
                        request,
                        _("Kept “%(name)s”, SHA-256 %(sha)s.")
                        % {"name": evidence.original_name, "sha": evidence.sha256},
                    )
            return reverse("incident_detail", args=[incident.pk])

        try:
            # The same form posted twice (Back + Save, a double tap) logs one incident.
            location, first = form_once(user=request.user, token=form.once_token, create=log)
        except _SameCall as exc:
            same = exc.incident
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if not first:
                messages.info(request, _("This form had already been saved; nothing was saved twice."))
            return redirect(location)
    return render(
        request,
        "evidence/incident_form.html",
        {
            "form": form,
            "same": same,
            "case": case,
            "kind": kind,
            "kind_label": IncidentKind(kind).label,
            "kinds": IncidentKind.choices,
        },
    )


class _SameCall(Exception):
    """The entry being logged looks like one already logged: ask before saving a second row."""

    def __init__(self, incident):
        super().__init__(incident.pk)
        self.incident = incident


def _apply_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def incident_detail(request, pk: int):
    incident, role = shares.incident_with_role(request.user, pk)
    shares.record(
        user=request.user,
        case=incident.case,
        action="view_incident",
        subject=incident,
        label=" ".join(p for p in (incident.ref, str(incident.get_kind_display())) if p),
    )
    amendments = AuditEvent.objects.filter(
        owner_id=incident.case.owner_id,
        subject_type="incident",
        subject_id=str(incident.pk),
        action__in=("incident.amend", "incident.merge"),
    ).order_by("seq")
    sources = merging.source_list(incident)
    return render(
        request,
        "evidence/incident_detail.html",
        {
            "incident": incident,
            "role": role,
            "case": incident.case,
            "evidence": incident.evidence.all(),
            "violations": violations_presenter()(incident),
            "sources": [merging.source_shown(source) for source in sources],
            # The entry of the kept file this incident came from, in words (its file is linked).
            "source_ref": merging.source_shown(
                next((s for s in sources if s.get("ref") == incident.source_ref), merging.origin_of(incident))
            ),
            "amendments": amendments,
            # Values other sources gave for what the person typed: shown side by side to choose.
            "conflicts": selectors.incident_conflicts(incident),
            "accept": ACCEPT_ATTRIBUTE,
            "accepted": ACCEPTED_DESCRIPTION,
        },
    )


@login_required
def incident_edit(request, pk: int):
    incident = selectors.incident_for(request.user, pk)
    form = IncidentForm(request.POST or None, kind=incident.kind, initial=IncidentForm.initial_from(incident))
    if request.method == "POST" and form.is_valid():
        try:
            services.incident_update(incident=incident, **form.incident_fields())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Saved. The earlier version stays in the audit history."))
            return redirect("incident_detail", pk=incident.pk)
    return render(
        request,
        "evidence/incident_form.html",
        {
            "form": form,
            "case": incident.case,
            "incident": incident,
            "kind": incident.kind,
            "kind_label": incident.get_kind_display(),
        },
    )


@login_required
@require_POST
def incident_conflict_choose(request, pk: int):
    """The person chooses between what they typed and what another source says (a conflict): an
    audited amendment either way, and the conflict is resolved (services.incident_update)."""
    incident = selectors.incident_for(request.user, pk)
    try:
        conflict = (incident.conflicts or [])[int(request.POST.get("conflict", ""))]
    except (ValueError, IndexError):
        messages.error(request, _("This difference has already been settled."))
        return redirect("incident_detail", pk=incident.pk)
    field = conflict.get("field")
    if request.POST.get("choice") == "other":
        value = conflict.get("value")
        if field == "occurred_at":
            value = parse_datetime(value)
    else:
        value = getattr(incident, field)
    try:
        services.incident_update(incident=incident, **{field: value})
    except (ValidationError, ValueError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("Saved. The earlier version stays in the audit history."))
    return redirect("incident_detail", pk=incident.pk)


@login_required
@require_POST
def incident_delete(request, pk: int):
    incident = selectors.incident_for(request.user, pk)
    case_pk = incident.case_id
    try:
        services.incident_delete(incident=incident)
    except ValidationError as exc:
        for problem in exc.messages:
            messages.error(request, problem)
        return redirect("incident_detail", pk=incident.pk)
    messages.success(request, _("Incident deleted. The audit history keeps a record of it."))
    return redirect("case_detail", pk=case_pk)


# --- evidence ----------------------------------------------------------------------------------


class StorageUnavailable(Exception):
    """The evidence store stopped answering during a multi-file upload: the files left are not tried."""


def store_uploads(request, store) -> tuple[list[dict], int]:
    """Run `store` on every file of the multipart field `files`; one result per file, and the
    status to answer with (201, or the single file's error status, or 207 for a mix)."""
    if upload_too_large(request):
        return [
            {"ok": False, "code": "file_too_large", "message": _("The file is larger than the upload limit.")}
        ], 413
    uploads = request.FILES.getlist("files")
    if upload_too_large(request):
        return [
            {"ok": False, "code": "file_too_large", "message": _("The file is larger than the upload limit.")}
        ], 413
    if not uploads:
        return [{"ok": False, "code": "no_file", "message": _("Choose at least one file.")}], 400
    results, status = [], 201
    store_down = False
    for upload in uploads:
        try:
            if store_down:  # the store just failed to answer: the other files would wait as long
                raise StorageUnavailable
            evidence = store(upload)
        except services.EvidenceRejected as exc:
            failure = {"code": exc.code, "message": exc.message}
            error_status = exc.status
        except ValidationError as exc:
            failure = {"code": "invalid", "message": " ".join(exc.messages)}
            error_status = 400
        except Exception as exc:
            # An object store that does not answer (after its bounded timeouts): nothing was kept.
            if not (isinstance(exc, StorageUnavailable) or storage_outage(exc)):
                raise
            store_down = True
            failure = {"code": "storage_unavailable", "message": storage_unavailable_message()}
            error_status = 503
        else:
            results.append(
                {
                    "ok": True,
                    "id": evidence.pk,
                    "name": evidence.original_name,
                    "sha256": evidence.sha256,
                    "size": evidence.size,
                    "content_type": evidence.content_type,
                    "filed": evidence.metadata.get("filed"),
                    "incident": evidence.incident_id,
                }
            )
            continue
        results.append({"ok": False, "name": upload.name, **failure})
        status = error_status if len(uploads) == 1 else 207
    return results, status


@login_required
@require_POST
def evidence_upload(request, pk: int):
    """Several files at once. The page's script sends one file per request to show progress;
    without script the form posts them all and comes back here."""
    incident = selectors.incident_for(request.user, pk)
    wants_json = "application/json" in request.headers.get("Accept", "")
    results, status = store_uploads(
        request, lambda upload: services.evidence_store(incident=incident, upload=upload)
    )
    if wants_json:
        return JsonResponse({"results": results}, status=status)
    for result in results:
        if result["ok"]:
            messages.success(
                request,
                _("Kept “%(name)s”, SHA-256 %(sha)s.")
                % {"name": result["name"], "sha": short_sha(result["sha256"])},
            )
        else:
            messages.error(request, result["message"])
    return redirect(reverse("incident_detail", args=[incident.pk]) + "#evidence")


@login_required
def evidence_download(request, pk: int):
    evidence = _evidence_seen(request, pk, "download")
    return evidence_file_response(evidence, as_attachment=True)


def _evidence_seen(request, pk: int, action: str):
    """A file of a case the user can see; a helper's look goes on the owner's chain."""
    evidence = shares.evidence_with_role(request.user, pk)[0]
    shares.record(
        user=request.user,
        case=evidence.incident.case,
        action=action,
        subject=evidence,
        label=" ".join(p for p in (evidence.incident.ref, evidence.original_name) if p),
    )
    return evidence


@login_required
def evidence_inline(request, pk: int):
    """The file itself for the page's thumbnail or player; same owner check as the download."""
    return evidence_file_response(_evidence_seen(request, pk, "view_evidence"), as_attachment=False)


@login_required
def evidence_thumbnail(request, pk: int):
    """A small JPEG of an image for the incident page; the original stays one click away."""

    evidence = shares.evidence_with_role(request.user, pk)[0]
    data = thumbnail_for(evidence)
    if data is None:
        raise Http404
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_POST
def evidence_delete(request, pk: int):
    evidence = selectors.evidence_for(request.user, pk)
    incident_pk = evidence.incident_id
    try:
        services.evidence_delete(evidence=evidence)
    except ValidationError as exc:  # e.g. the case is on legal hold: nothing changes
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("File removed. The audit history keeps its hash."))
    return redirect("incident_detail", pk=incident_pk)


# --- phone log import ---------------------------------------------------------------------------


@login_required
def import_upload(request, pk: int):

    case = selectors.case_for(request.user, pk)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    mapping_form = None
    if request.method == "POST":
        if upload_too_large(request):
            form.add_error(None, _("The file is larger than the upload limit."))
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            # A carrier's call record: the columns the person mapped (sent with the file again), or
            # those remembered for this header row.
            headers = carrier.offer_headers(upload)
            mapping = carrier.remembered_mapping(owner=request.user, headers=headers) if headers else None
            if headers and "column_0" in request.POST:
                mapping_form = CarrierMappingForm(request.POST, headers=headers)
                mapping = mapping_form.cleaned_data["mapping"] if mapping_form.is_valid() else None
            if mapping_form is None or mapping is not None:
                try:
                    phone_import = phone_import_prepare(case=case, upload=upload, mapping=mapping)
                except services.EvidenceRejected as exc:
                    form.add_error("file", exc.message)
                    if headers and exc.status == 400 and mapping_form is None:
                        mapping_form = CarrierMappingForm(headers=headers)
                else:
                    if mapping_form is not None:
                        carrier.mapping_remember(owner=request.user, headers=headers, mapping=mapping)
                    return redirect("import_preview", pk=phone_import.pk)
    return render(
        request, "evidence/import_upload.html", {"case": case, "form": form, "mapping_form": mapping_form}
    )


@login_required
def import_preview(request, pk: int):

    phone_import = get_object_or_404(
        PhoneImport.objects.filter(owner=request.user).select_related("case"), pk=pk
    )
    summary = phone_import.summary
    form = ImportChoiceForm(request.POST or None, summary=summary)
    if request.method == "POST" and form.is_valid() and import_is_large(phone_import=phone_import):
        # Too large to import while the page waits: it runs in the background, this page follows it.
        phone_import_background(
            phone_import=phone_import,
            numbers=form.cleaned_data["numbers"],
            kinds=form.cleaned_data["kinds"],
            date_order=form.cleaned_data.get("date_order"),
            include_before_period=request.POST.get("include_before_period") == "1",
        )
        return redirect("import_preview", pk=phone_import.pk)
    if request.method == "POST" and form.is_valid():
        try:
            counts = phone_import_run(
                phone_import=phone_import,
                numbers=form.cleaned_data["numbers"],
                kinds=form.cleaned_data["kinds"],
                date_order=form.cleaned_data.get("date_order"),
                # Entries before the debt's start are left out unless the person ticks them in.
                include_before_period=request.POST.get("include_before_period") == "1",
            )
        except services.EvidenceRejected as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _(
                    "Imported %(created)d new entries; %(linked)d joined entries already logged "
                    "(the same calls); %(duplicates)d were already here; %(skipped)d were not chosen."
                )
                % counts,
            )
            if counts.get("implausible"):
                messages.warning(request, implausible_note(counts["implausible"]))
            if counts.get("before_period"):
                messages.info(
                    request,
                    _("%(count)d entries from before the debt began were left out.")
                    % {"count": counts["before_period"]},
                )
            return redirect("case_detail", pk=phone_import.case_id)
    tz = timezone.get_current_timezone()
    first = timezone.datetime.fromisoformat(summary["first"]).astimezone(tz) if summary.get("first") else None
    last = timezone.datetime.fromisoformat(summary["last"]).astimezone(tz) if summary.get("last") else None
    rows = [(person, form["numbers"][index]) for index, person in enumerate(summary["counterparts"])]
    return render(
        request,
        "evidence/import_preview.html",
        {
            "phone_import": phone_import,
            "case": phone_import.case,
            "summary": summary,
            "form": form,
            "first": first,
            "last": last,
            "rows": rows,
            "implausible": implausible_note(summary["implausible"]) if summary.get("implausible") else "",
            "note": import_note(phone_import),
        },
    )


@login_required
def import_status(request, pk: int):
    """The progress of a background import, polled by its page (static/js/app.js)."""
    phone_import = get_object_or_404(PhoneImport.objects.filter(owner=request.user), pk=pk)
    state = import_state(phone_import)
    return JsonResponse({**state, "note": import_note(phone_import)})


# --- recordings, filed automatically ------------------------------------------------------------


@login_required
def recordings_upload(request, pk: int):
    """Several recordings at once, each filed under the call it belongs to (or a new call), then
    listed so the person can confirm or fix each match."""

    case = selectors.case_for(request.user, pk)
    if request.method == "POST":
        wants_json = "application/json" in request.headers.get("Accept", "")
        results, status = store_uploads(
            request, lambda upload: services.evidence_autofile(case=case, upload=upload, source=Source.MANUAL)
        )
        if wants_json:
            return JsonResponse({"results": results}, status=status)
        for result in results:
            if not result["ok"]:
                messages.error(request, f"{result.get('name', '')}: {result['message']}")
        return redirect("recordings_upload", pk=case.pk)

    recent = (
        EvidenceFile.objects.filter(incident__case=case, metadata__has_key="filed")
        .select_related("incident")
        .order_by("-received_at")[:50]
    )
    rows = []
    for evidence in recent:
        moment = evidence.incident.occurred_at
        # Calls around the recording's time; for a recording whose time is unknown, the latest calls.
        calls = Incident.objects.filter(case=case, kind="call").exclude(pk=evidence.incident_id)
        if moment is not None:
            calls = calls.filter(
                occurred_at__gte=moment - timedelta(days=1), occurred_at__lte=moment + timedelta(days=1)
            ).order_by("occurred_at")
        else:
            calls = calls.filter(occurred_at__isnull=False).order_by("-occurred_at")
        options = calls[:40]
        rows.append((evidence, options))
    return render(
        request,
        "evidence/recordings.html",
        {"case": case, "rows": rows, "accept": ACCEPT_ATTRIBUTE, "accepted": ACCEPTED_DESCRIPTION},
    )


@login_required
@require_POST
def evidence_move(request, pk: int):
    """Move a file to another incident of its case. Another user's evidence or incident is a 404; a
    malformed incident id or one of another case is an error message. `next` is followed only
    when it stays on this site."""
    evidence = selectors.evidence_for(request.user, pk)
    back = (request.POST.get("next") or "").strip()
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    raw = request.POST.get("incident") or ""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        messages.error(request, _("Choose the incident to move this file to."))
        return redirect(back or reverse("incident_detail", args=[evidence.incident_id]))
    target = selectors.incident_for(request.user, int(raw))
    try:
        services.evidence_move(evidence=evidence, incident=target)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Moved “%(name)s”.") % {"name": evidence.original_name})
    return redirect(back or reverse("incident_detail", args=[target.pk]))


@login_required
@require_POST
def visit_record(request, pk: int):
    """The visit recorder's upload: creates the visit with its recording, then the person fills in
    the details."""

    case = selectors.case_for(request.user, pk)
    if upload_too_large(request):
        return JsonResponse(
            {"ok": False, "message": _("The file is larger than the upload limit.")}, status=413
        )
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"ok": False, "message": _("No recording was received.")}, status=400)
    # The recorder names the file from its start in UTC; the kept name states the owner's local time.
    upload.name = file_times.local_recording_name(upload.name, timezone.get_current_timezone())
    # Unreadable values are unknown, not refused: the recording is kept and the service falls back
    # to the server's estimate of the start (services.visit_recording_store says how).
    try:
        started = parse_datetime(request.POST.get("started_at") or "")
    except ValueError:  # well-formed but impossible: month 13, hour 25, an offset of 99 hours
        started = None
    if started is not None and not in_supported_range(started):  # 0001-01-01 overflows on conversion
        started = None
    # How long ago recording began, by the phone's clock, when this request was sent: a recording
    # kept on the phone while offline arrives hours later and keeps its own time.
    raw_age = (request.POST.get("age_seconds") or "").strip()
    try:
        age = float(raw_age) if raw_age.isascii() and raw_age else None
    except ValueError:
        age = None
    raw_elapsed = (request.POST.get("elapsed_seconds") or "").strip()
    try:
        elapsed = float(raw_elapsed) if raw_elapsed.isascii() and raw_elapsed else None
    except ValueError:
        elapsed = None

    def store():
        try:
            evidence = services.visit_recording_store(
                case=case,
                upload=upload,
                started_at=started,
                elapsed_seconds=elapsed,
                age_seconds=age,
                recording_id=request.POST.get("recording_id", ""),
            )
        except services.EvidenceRejected as exc:
            answer = {"ok": False, "code": exc.code, "message": exc.message}
            return JsonResponse(answer, status=exc.status), None
        answer = JsonResponse(
            {
                "ok": True,
                "id": evidence.pk,
                "sha256": evidence.sha256,
                "incident": evidence.incident_id,
                "next": reverse("incident_edit", args=[evidence.incident_id]),
            },
            status=201,
        )
        return answer, Answer(status=201, body=answer.content, content_type=answer["Content-Type"])

    # The recorder keeps the audio on the phone until it sees this answer, and sends it again after a
    # lost answer (offline, a reload): its key makes the repeat return the first answer, so one
    # recording is never stored twice. A key is the recording's own id, made when recording began.
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key:
        return store()[0]
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return JsonResponse({"ok": False, "message": _("The recording's key is not valid.")}, status=400)
    response, first = run_once(user=request.user, scope="visit", key=key, fingerprint=None, action=store)
    if first is not None:
        response = HttpResponse(first.body, status=first.status, content_type=first.content_type)
        response[REPLAYED_HEADER] = "true"
    return response


# --- shared into the app (Web Share Target) ----------------------------------------------------------


# Where a share may come from: the phone's share sheet (a navigation the browser starts itself,
# "none") or this site's own pages; never another site, whatever cookies it manages to send along.
SHARE_FETCH_SITES = ("", "none", "same-origin")


@csrf_exempt
@login_required
def share_receive(request):
    """Where the phone's share sheet posts files (static/manifest.webmanifest `share_target`). It
    cannot carry a CSRF token, so it only stages the files; filing needs the case chosen on the next
    page, a normal form (evidence/sharing.py says why)."""
    if request.method == "POST":
        if request.headers.get("Sec-Fetch-Site", "").lower() not in SHARE_FETCH_SITES:
            return HttpResponseForbidden(_("Files can only be shared into the app from this device."))
        if upload_too_large(request):
            messages.error(request, _("The file is larger than the upload limit."))
        else:
            _staged, refused = sharing.share_stage(
                session=request.session, owner=request.user, uploads=request.FILES.getlist("files")
            )
            for reason in refused:
                messages.error(request, reason)
    return redirect("share")


@login_required
def share(request):
    """Which case the shared files belong to; then they are filed as the upload pages file them."""
    staged = sharing.share_staged(session=request.session, owner=request.user)
    cases = list(Case.objects.for_owner(request.user).order_by("-created_at"))
    if request.method == "POST" and request.POST.get("discard"):
        sharing.share_discard(session=request.session, owner=request.user)
        messages.info(request, _("The shared files were not kept."))
        return redirect("case_list")
    if request.method == "POST" and staged:
        raw = request.POST.get("case") or ""
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:
            case = selectors.case_for(request.user, int(raw))
            results = sharing.share_file(
                session=request.session, owner=request.user, case=case, batch=request.POST.get("batch", "")
            )
            if results is None:
                messages.error(
                    request, _("Other files were shared meanwhile: check them, then choose again.")
                )
                return redirect("share")
            imports = [r.import_id for r in results if r.import_id]
            for result in results:
                if not result.ok:
                    messages.error(request, f"{result.name}: {result.message}")
                elif result.sha256:
                    messages.success(
                        request,
                        _("Safely saved ✓ “%(name)s”, SHA-256 %(sha)s.")
                        % {"name": result.name, "sha": short_sha(result.sha256)},
                    )
            if len(imports) == 1:
                return redirect("import_preview", pk=imports[0])
            for pk in imports:
                messages.info(
                    request,
                    _("A phone export is waiting for you to choose what to import: %(url)s")
                    % {"url": reverse("import_preview", args=[pk])},
                )
            return redirect("case_detail", pk=case.pk)
        messages.error(request, _("Choose the case these files belong to."))
    # The case last written to is the likeliest; with one case there is nothing to choose.
    latest = (
        Incident.objects.filter(case__in=cases)
        .order_by("-logged_at")
        .values_list("case_id", flat=True)
        .first()
    )
    chosen = latest or (cases[0].pk if cases else None)
    return render(
        request,
        "evidence/share.html",
        {
            "staged": staged,
            "batch": sharing.share_batch(session=request.session),
            "cases": cases,
            "chosen": chosen,
            "limit": settings.EVIDENCE_MAX_UPLOAD_BYTES,
        },
    )


def offline(request):
    """The page the service worker shows when a page cannot be reached: what is kept on the phone
    waits there and is sent when the network is back. It names nobody and shows no evidence."""
    response = render(request, "evidence/offline.html")
    response["Cache-Control"] = "no-cache"
    # Fetched by the service worker in the background, possibly with the cookies of a moment ago
    # (before a login rotated the CSRF secret): it must never set the CSRF cookie, or it would
    # replace the fresh one and the next form the person sends would be refused (403).
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = False
    return response


def service_worker(request):
    """Served from the site root so that it may control every page (the install requirement)."""

    path = finders.find("js/sw.js")
    with open(path, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


def favicon(request):

    return redirect(static("icons/favicon-32.png"), permanent=True)


@login_required
def phone_help(request):
    """How to send recordings and screenshots automatically from the phone, with a token to paste."""
    form = TokenForm(request.POST or None, initial={"name": _("Phone automation")})
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _token, new_secret = token_create(user=request.user, name=form.cleaned_data["name"])
    cases = Case.objects.for_owner(request.user).order_by("-created_at")
    return render(
        request,
        "evidence/phone_help.html",
        {
            "form": form,
            "new_secret": new_secret,
            "cases": cases,
            "endpoint": request.build_absolute_uri(reverse("api_evidence_autofile")),
            "token_placeholder": new_secret or "<TOKEN>",
        },
    )


# --- what a screenshot shows --------------------------------------------------------------------


@login_required
def ocr_preview(request, pk: int):
    """The messages or calls read from one screenshot, proposed for logging: the person ticks what
    to log, confirms the suggested flags and sets a time where none could be read for sure."""
    evidence = selectors.evidence_for(request.user, pk)
    case = evidence.incident.case
    found = proposals.propose(evidence=evidence, tz=timezone.get_current_timezone(), pack_id=case.rule_pack)
    form = ProposalForm(request.POST or None, items=found["items"])
    if request.method == "POST" and form.is_valid():
        chosen = form.chosen()
        if not chosen:
            form.add_error(None, _("Tick at least one entry to log."))
        else:
            try:
                counts = proposals.proposals_log(evidence=evidence, case=case, choices=chosen)
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
            else:
                messages.success(
                    request,
                    _(
                        "Logged %(created)d new entries; %(linked)d joined entries already logged (the "
                        "same calls or messages); %(already)d were logged from this screenshot before."
                    )
                    % counts,
                )
                return redirect("case_detail", pk=case.pk)
    return render(
        request,
        "evidence/ocr_preview.html",
        {
            "evidence": evidence,
            "case": case,
            "found": found,
            "form": form,
            "rows": form.rows(),
            "recognized": recognized_row(evidence),
        },
    )
