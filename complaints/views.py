"""Pages for building, following and downloading dossiers, and the public verify page."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.services import profile_for
from config.throttling import throttle, wait_message
from evidence import selectors, shares
from evidence.models import IncidentKind
from evidence.selectors import current_language
from evidence.uploads import upload_too_large

from . import services
from .forms import DossierForm, VerifyForm
from .integrity import issued_by_seal
from .models import Dossier, DossierStatus
from .signing import trusted_keys
from .verification import BundleIncomplete, VerificationRefused, bundle_file, verify_upload

# Verification attempts allowed per client when VERIFY_RATE is not set: far above a handler
# checking a batch of dossiers, far below what would keep the server busy.
VERIFY_RATE = "60/hour"


def dossier_for(user, pk, need: str = shares.OWNER) -> Dossier:
    """A dossier of a case the user can see (404 otherwise); 403 when a helper's role is below `need`."""
    dossier = get_object_or_404(
        Dossier.objects.filter(case__in=shares.readable_cases(user)).select_related("case"), pk=pk
    )
    shares.case_with_role(user, dossier.case_id, need)
    return dossier


def _seen(request, dossier: Dossier, action: str) -> Dossier:
    shares.record(
        user=request.user,
        case=dossier.case,
        action=action,
        subject=dossier,
        label=_("Dossier No. %(number)s") % {"number": dossier.number},
    )
    return dossier


def _incident_choices(case):
    rows = case.incidents.order_by("-occurred_at", "-id").values_list(
        "pk", "occurred_at", "kind", "counterpart_number"
    )

    labels = dict(IncidentKind.choices)
    return [
        (pk, f"{timezone.localtime(at):%Y-%m-%d %H:%M} {labels.get(kind, kind)} {number}".strip())
        for pk, at, kind, number in rows
    ]


@login_required
def dossier_builder(request, pk: int):
    # A helper with the assist role drafts; the owner issues it (nothing goes out in their name before).
    case, role = shares.case_with_role(request.user, pk, shares.ASSIST)
    language = current_language()
    choices = _incident_choices(case)
    form = DossierForm(request.POST or None, incidents=choices, language=language)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        excluded = {int(pk) for pk in data["exclude"]}
        try:
            dossier = services.dossier_create(
                owner=case.owner,
                drafted_by=request.user if role != shares.OWNER else None,
                case=case,
                addressee=data["addressee"],
                addressee_name=data["addressee_name"],
                language=data["language"],
                date_from=data["date_from"],
                date_to=data["date_to"],
                incident_ids=[pk for pk, _label in choices if pk not in excluded] if excluded else None,
                requests=data["requests"],
                request_text=data["request_text"],
                earlier_complaint=form.earlier_complaint(),
                full_id_number=data["full_id_number"],
                contact_address=data["contact_address"],
                police_station=data["police_station"],
                harm=data["harm"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                field = "earlier_date" if field == "earlier_complaint_date" else field
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("dossier_detail", pk=dossier.pk)
    # The dossier form says when no CJK font is usable: reportlab, which checks, loads with the first
    # form shown, not with every web process.
    from .pdf import font_status  # noqa: PLC0415

    _font, font_warning = font_status()
    profile = profile_for(case.owner)
    return render(
        request,
        "complaints/builder.html",
        {
            "role": role,
            "case": case,
            "form": form,
            "font_warning": font_warning,
            "dossiers": case.dossiers.all()[:20],
            "strengthen": selectors.case_strengtheners(case=case),
            "profile_missing": not (profile.display_name and profile.phone),
        },
    )


@login_required
def dossier_detail(request, pk: int):
    dossier = _seen(request, dossier_for(request.user, pk, shares.READ), "view_dossier")
    manifest = json.loads(dossier.manifest) if dossier.is_issued and dossier.manifest else {}
    return render(
        request,
        "complaints/dossier.html",
        {
            "dossier": dossier,
            "role": shares.role_on(request.user, dossier.case),
            "case": dossier.case,
            "summary": manifest.get("summary"),
            "next_steps": next_steps(dossier.addressee),
            "stalled": build_stalled(dossier),
        },
    )


def next_steps(addressee: str) -> dict | None:
    """Whom to call with the dossier, and what to say."""
    steps = {
        "alipay": (
            "95188",
            _(
                "Say: “I am complaining about violent collection on my Huabei/Jiebei account. I have "
                "a sealed complaint with evidence; please log a complaint ticket and give me its number.” "
                "Paste the short summary into the chat (我的客服) and send the PDF."
            ),
        ),
        "ant_consumer_finance": (
            "95188",
            _(
                "Ask Alipay customer service to pass the complaint to the lender and to give "
                "you a ticket number."
            ),
        ),
        "nfra": (
            "12378",
            _(
                "Say: “I complained to the institution on the date in the letter and got no satisfactory "
                "answer.” Give the earlier ticket number; ask for a 受理编号."
            ),
        ),
        "pboc": ("12363", _("Use 12363 for credit-report and payment matters; ask for a reference number.")),
        "police": (
            "110",
            _(
                "For threats or violence now, call 110 at once. Otherwise take the printed report to the "
                "local police station and ask for a 受案回执."
            ),
        ),
    }
    if addressee not in steps:
        return None
    phone, script = steps[addressee]
    return {"phone": phone, "script": script}


def status_payload(dossier: Dossier) -> dict:
    return {
        "id": dossier.pk,
        "status": dossier.status,
        "progress": dossier.progress,
        "note": dossier.progress_note,
        "error": dossier.error,
        "seal": dossier.seal,
        "pdf_sha256": dossier.pdf_sha256,
        "pages": dossier.pages,
        "pdf_url": reverse("dossier_pdf", args=[dossier.pk]) if dossier.is_issued else None,
        "bundle_url": reverse("dossier_bundle", args=[dossier.pk]) if dossier.is_issued else None,
        "stalled": build_stalled(dossier),
    }


def build_stalled(dossier: Dossier) -> bool:
    """A build that has shown no sign of life (heartbeat, start, order) for DOSSIER_STALL_SECONDS:
    only then is "start again" worth offering; a build at 0 % a second after ordering is just queued."""
    if dossier.status not in (DossierStatus.PENDING, DossierStatus.RUNNING):
        return False
    last_sign = dossier.heartbeat_at or dossier.started_at or dossier.created_at
    return last_sign < timezone.now() - timedelta(seconds=settings.DOSSIER_STALL_SECONDS)


@login_required
def dossier_status(request, pk: int):
    return JsonResponse(status_payload(dossier_for(request.user, pk, shares.READ)))


def pdf_response(dossier: Dossier) -> FileResponse:
    response = FileResponse(
        default_storage.open(dossier.pdf_name, "rb"),
        as_attachment=True,
        filename=f"{dossier.number}.pdf",
        content_type="application/pdf",
    )
    response["X-Content-SHA256"] = dossier.pdf_sha256
    response["Cache-Control"] = "private, no-store"
    return response


def bundle_response(dossier: Dossier, *, api: bool = False, request=None):
    """The bundle; or, when a sealed file can no longer be read, a loud refusal (409), never a
    partial bundle that would fail its own check."""
    try:
        spool = bundle_file(dossier)
    except BundleIncomplete as exc:
        message = _("This dossier's bundle cannot be complete: %(problem)s.") % {"problem": exc}
        if api:
            return JsonResponse({"error": {"code": "bundle_incomplete", "message": message}}, status=409)
        return render(None, "message.html", {"title": _("Bundle incomplete"), "message": message}, status=409)
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=f"{dossier.number}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _issued_or_404(user, pk) -> Dossier:
    dossier = dossier_for(user, pk, shares.READ)
    if not dossier.is_issued:
        raise Http404("not issued yet")
    return dossier


@login_required
def dossier_pdf(request, pk: int):
    return pdf_response(_seen(request, _issued_or_404(request.user, pk), "download_dossier"))


@login_required
def dossier_bundle(request, pk: int):
    return bundle_response(
        _seen(request, _issued_or_404(request.user, pk), "download_bundle"), request=request
    )


@login_required
@require_POST
def dossier_reissue(request, pk: int):
    dossier = dossier_for(request.user, pk)
    if dossier.status == DossierStatus.DRAFT:
        # The owner issues a helper's draft: built now, in the owner's name.
        services.dossier_issue_draft(dossier=dossier)
        messages.success(request, _("Issued: the dossier is being built in your name."))
        return redirect("dossier_detail", pk=dossier.pk)
    if (
        dossier.status in (DossierStatus.FAILED, DossierStatus.PENDING, DossierStatus.RUNNING)
        and request.POST.get("mode") == "retry"
    ):
        services.dossier_retry(dossier=dossier)
        return redirect("dossier_detail", pk=dossier.pk)
    try:
        fresh = services.dossier_reissue(dossier=dossier)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("dossier_detail", pk=dossier.pk)
    messages.success(
        request,
        _(
            "A new dossier is being built from the record as it is now. "
            "The earlier one stays valid as issued."
        ),
    )
    return redirect("dossier_detail", pk=fresh.pk)


def verify_throttled(request) -> int | None:
    """Count one verification attempt by this client (the page and the API share the count): None
    while within VERIFY_RATE, else the seconds to wait."""
    return throttle(request, "verify", getattr(settings, "VERIFY_RATE", VERIFY_RATE))


def verify_page(request):
    """Public: anyone holding a dossier PDF or bundle can check it, without an account. Attempts
    are throttled per client; an upload past a limit of VerifyLimits is refused unread."""
    if request.method == "POST":
        wait = verify_throttled(request)
        if wait is not None:
            response = render(
                request,
                "complaints/verify.html",
                {"form": VerifyForm(), "refusal": wait_message(wait)},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
    form = VerifyForm(request.POST or None, request.FILES or None)
    verdict, refusal, code = None, None, 200
    if request.method == "POST":
        if upload_too_large(request):
            form.add_error("file", _("The file is larger than the upload limit."))
        elif form.is_valid():
            try:
                verdict = verify_upload(form.cleaned_data["file"])
            except VerificationRefused as refused:
                refusal, code = refused.message, refused.status
    # Opened from the QR code on a dossier page: say whether this server issued that seal, and when.
    seal = (request.GET.get("seal") or "").strip().lower()
    looked_up = None
    if request.method == "GET" and re.fullmatch(r"[0-9a-f]{64}", seal):
        looked_up = {
            "seal": seal,
            # Also a dossier whose owner has since deleted the case or the account (IssuedSeal), or
            # one the database forgot in a restore (the evidence store's record).
            "dossier": issued_by_seal(seal),
        }
    return render(
        request,
        "complaints/verify.html",
        {
            "form": form,
            "verdict": verdict,
            "refusal": refusal,
            "looked_up": looked_up,
            # The fingerprints a dossier's signing certificate must have (the dossier prints its own).
            "signing_keys": trusted_keys(),
        },
        status=code,
    )
