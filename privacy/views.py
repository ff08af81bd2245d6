"""Pages for export, account and case deletion, and legal hold. Thin: each calls one service."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.views import too_many
from config.throttling import throttle
from evidence import shares
from evidence.models import Case, EvidenceFile

from . import services
from .api import export_response
from .forms import HoldForm, PasswordConfirmForm
from .models import Export, ExportStatus


def _apply(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def export_list(request):
    if request.method == "POST":
        export = services.export_create(owner=request.user)
        return redirect("export_detail", pk=export.pk)
    exports = Export.objects.for_owner(request.user)
    return render(request, "privacy/exports.html", {"exports": exports})


def _export(request, pk) -> Export:
    return get_object_or_404(Export.objects.for_owner(request.user), pk=pk)


@login_required
def export_detail(request, pk: int):
    return render(request, "privacy/export.html", {"export": _export(request, pk)})


@login_required
def export_status(request, pk: int):
    export = _export(request, pk)
    return JsonResponse(
        {"id": export.pk, "status": export.status, "progress": export.progress, "note": export.progress_note}
    )


@login_required
def export_download(request, pk: int):
    export = _export(request, pk)
    if export.status != ExportStatus.READY:
        return redirect("export_detail", pk=export.pk)
    return export_response(export)


def _retention_context(**kwargs) -> dict:
    return {
        "retention_until": services.retention_estimate(**kwargs),
        "retention_days": getattr(settings, "EVIDENCE_S3_RETENTION_DAYS", 0),
    }


@login_required
def account_delete(request):
    held = Case.objects.for_owner(request.user).filter(hold_at__isnull=False)
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tombstone = services.account_delete(user=request.user, password=form.cleaned_data["password"])
        except ValidationError as exc:
            _apply(form, exc)
        except services.DeletionRefused as refused:
            form.add_error(None, refused.message)
        else:
            logout(request)
            tombstone.refresh_from_db()
            return render(request, "privacy/deleted.html", {"tombstone": tombstone})
    return render(
        request,
        "privacy/account_delete.html",
        {"form": form, "held": held, **_retention_context(owner=request.user)},
    )


@login_required
def case_delete(request, pk: int):
    case = shares.case_with_role(request.user, pk, shares.OWNER)[0]
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tombstone = services.case_delete(case=case, password=form.cleaned_data["password"])
        except ValidationError as exc:
            _apply(form, exc)
        except services.DeletionRefused as refused:
            form.add_error(None, refused.message)
        else:
            tombstone.refresh_from_db()
            messages.success(request, _case_deleted_message(tombstone))
            return redirect("case_list")
    counts = {
        "incidents": case.incidents.count(),
        "files": EvidenceFile.all_objects.filter(incident__case=case).count(),
        "dossiers": case.dossiers.count(),
    }
    return render(
        request,
        "privacy/case_delete.html",
        {"case": case, "form": form, "counts": counts, **_retention_context(owner=request.user, case=case)},
    )


def _case_deleted_message(tombstone) -> str:
    if tombstone.purge_until:
        return _(
            "The case was deleted. Its files are unreadable from now on and destroyed when their "
            "retention ends (%(date)s)."
        ) % {"date": tombstone.purge_until.strftime("%Y-%m-%d")}
    return _("The case and its files were deleted.")


@login_required
def case_hold(request, pk: int):
    case = shares.case_with_role(request.user, pk, shares.OWNER)[0]
    form = HoldForm(request.POST or None, initial={"reason": case.hold_reason})
    if request.method == "POST" and form.is_valid():
        try:
            services.case_hold(case=case, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _apply(form, exc)
        else:
            return redirect("case_detail", pk=case.pk)
    return render(request, "privacy/case_hold.html", {"case": case, "form": form})


@login_required
def case_release(request, pk: int):
    """Lifting a hold asks for the password, as deleting does: a session alone is not enough."""
    case = shares.case_with_role(request.user, pk, shares.OWNER)[0]
    if case.hold_at is None:
        return redirect("case_detail", pk=pk)
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST":
        if (wait := throttle(request, "password-check", settings.LOGIN_RATE)) is not None:
            return too_many(request, wait)
        if form.is_valid():
            try:
                services.case_release(case=case, password=form.cleaned_data["password"])
            except services.HoldKept as kept:
                form.add_error("password", kept.message)
            else:
                messages.success(request, _("The hold is lifted."))
                return redirect("case_detail", pk=pk)
    return render(request, "privacy/case_release.html", {"case": case, "form": form})
