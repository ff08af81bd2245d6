"""Pages for what follows a dossier: the stop-contact notice, complaints sent and their replies,
and the one-tap escalation. The case page shows the progress (templatetags/followup.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.idempotency import form_once
from accounts.services import profile_for
from evidence import shares
from evidence.selectors import current_language
from evidence.services import EvidenceRejected

from . import followup, notices
from .followup_api import notice_pdf_response
from .followup_forms import ComplaintForm, DeadlineForm, NoticeForm, NoticeSentForm, ReplyForm
from .models import Complaint, DossierStatus, StopNotice


def _apply_errors(form, exc: ValidationError, rename: dict | None = None) -> None:
    for field, errors in exc.message_dict.items():
        field = (rename or {}).get(field, field)
        form.add_error(field if field in form.fields else None, errors)


def _case_page(case) -> str:
    return reverse("case_detail", args=[case.pk]) + "#followup"


@login_required
def notice_new(request, pk: int):
    # Sending the stop-contact notice is the owner's act; a helper who can see the case gets 403.
    case = shares.case_with_role(request.user, pk, shares.OWNER)[0]
    form = NoticeForm(request.POST or None, initial={"language": current_language()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            notice = notices.notice_create(
                owner=request.user,
                case=case,
                allowed_channel=data["allowed_channel"],
                allowed_hours=(data["hours_from"], data["hours_until"]),
                language=data["language"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc, {"allowed_hours": "hours_until"})
        else:
            return redirect("notice_detail", pk=notice.pk)
    return render(
        request,
        "complaints/notice_form.html",
        {"case": case, "form": form},
    )


def _notice_for(user, pk) -> StopNotice:
    return get_object_or_404(StopNotice.objects.for_owner(user).select_related("case", "proof"), pk=pk)


@login_required
def notice_detail(request, pk: int):
    notice = _notice_for(request.user, pk)
    form = NoticeSentForm(
        request.POST or None, request.FILES or None, initial={"sent_at": timezone.localtime()}
    )
    # With its one-time token, a repeat of the form (a double tap, the offline outbox sending it
    # again) is answered as the first was, even after the notice was marked sent.
    if request.method == "POST" and (notice.sent_at is None or form.once_token) and form.is_valid():
        data = form.cleaned_data

        def mark() -> str:
            if notice.sent_at is not None:
                raise ValidationError({"sent_at": _("This notice is already marked as sent.")})
            notices.notice_mark_sent(
                notice=notice, sent_at=data["sent_at"], channel=data["channel"], proof=data["proof"]
            )
            messages.success(
                request, _("Marked as sent. Contacts after it that break it are flagged from now on.")
            )
            return _case_page(notice.case)

        try:
            location, first = form_once(user=request.user, token=form.once_token, create=mark)
        except ValidationError as exc:
            _apply_errors(form, exc)
        except EvidenceRejected as exc:
            form.add_error("proof", exc.message)
        else:
            if not first:
                messages.info(request, _("This form had already been saved; nothing was saved twice."))
            return redirect(location)
    return render(
        request,
        "complaints/notice.html",
        {"case": notice.case, "notice": notice, "number": notices.notice_number(notice), "form": form},
    )


@login_required
def notice_pdf(request, pk: int):
    return notice_pdf_response(_notice_for(request.user, pk))


@login_required
def complaint_new(request, pk: int):
    # A helper with the assist role may log a complaint the person made.
    case, role = shares.case_with_role(request.user, pk, shares.ASSIST)
    dossiers = list(case.dossiers.filter(status=DossierStatus.READY)[:30])
    initial = {"sent_at": timezone.localtime(), "dossier": dossiers[0].pk if dossiers else None}
    if request.GET.get("addressee"):
        initial["addressee"] = request.GET["addressee"]
    form = ComplaintForm(request.POST or None, initial=initial, dossiers=dossiers)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = next((d for d in dossiers if d.pk == data["dossier"]), None)

        def log() -> str:
            complaint = followup.complaint_log(
                owner=case.owner,
                case=case,
                addressee=data["addressee"],
                addressee_name=data["addressee_name"],
                channel=data["channel"],
                sent_at=data["sent_at"],
                ticket_number=data["ticket_number"],
                dossier=chosen,
            )
            shares.record(
                user=request.user,
                case=case,
                action="log_complaint",
                subject=complaint,
                label=str(complaint.get_addressee_display()),
            )
            return reverse("complaint_detail", args=[complaint.pk])

        try:
            # The same form sent twice (a double tap, the offline outbox) logs one complaint.
            location, first = form_once(user=request.user, token=form.once_token, create=log)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if not first:
                messages.info(request, _("This form had already been saved; nothing was saved twice."))
            return redirect(location)
    return render(request, "complaints/complaint_form.html", {"case": case, "form": form})


def _complaint_for(user, pk, need: str = shares.OWNER) -> Complaint:
    complaint = get_object_or_404(
        Complaint.objects.filter(case__in=shares.readable_cases(user))
        .select_related("case", "dossier")
        .prefetch_related("replies"),
        pk=pk,
    )
    shares.case_with_role(user, complaint.case_id, need)
    return complaint


@login_required
def complaint_detail(request, pk: int):
    # Read by any helper; replies and deadlines logged by an assisting one (checked on POST).
    complaint = _complaint_for(request.user, pk, shares.READ if request.method == "GET" else shares.ASSIST)
    language = current_language()
    state = followup.standing(complaint)
    reply_form = ReplyForm(
        request.POST or None if request.POST.get("form") == "reply" else None,
        request.FILES or None,
        initial={"received_at": timezone.localtime()},
    )
    deadline_form = DeadlineForm(
        request.POST if request.POST.get("form") == "deadline" else None,
        addressee=complaint.addressee,
        language=language,
        initial={"deadline": complaint.deadline},
    )
    if request.method == "POST":
        if request.POST.get("form") == "reply" and reply_form.is_valid():
            data = reply_form.cleaned_data

            def log() -> str:
                followup.reply_log(
                    complaint=complaint,
                    received_at=data["received_at"],
                    text=data["text"],
                    outcome=data["outcome"],
                    upload=data["evidence"],
                )
                return reverse("complaint_detail", args=[complaint.pk])

            try:
                # The same reply sent twice (a double tap, the offline outbox) is logged once.
                location, first = form_once(user=request.user, token=reply_form.once_token, create=log)
            except ValidationError as exc:
                _apply_errors(reply_form, exc, {"upload": "evidence"})
            except EvidenceRejected as exc:
                reply_form.add_error("evidence", exc.message)
            else:
                if not first:
                    messages.info(request, _("This form had already been saved; nothing was saved twice."))
                return redirect(location)
        elif request.POST.get("form") == "deadline" and deadline_form.is_valid():
            followup.complaint_update(complaint=complaint, deadline=deadline_form.cleaned_data["deadline"])
            return redirect("complaint_detail", pk=complaint.pk)
        elif request.POST.get("form") == "close":
            followup.complaint_update(complaint=complaint, closed=request.POST.get("closed") == "1")
            return redirect("complaint_detail", pk=complaint.pk)
    return render(
        request,
        "complaints/complaint.html",
        {
            "case": complaint.case,
            "complaint": complaint,
            "state": state,
            "status_label": dict(followup.ComplaintStatus.choices)[state.status],
            "deadline_label": state.option_label[language],
            "source": state.source[language] if state.source else "",
            "next_step": followup.needs_next_step(complaint, state),
            "escalations": followup.escalation_choices(case=complaint.case, language=language),
            "reply_form": reply_form,
            "deadline_form": deadline_form,
        },
    )


@login_required
@require_POST
def complaint_escalate(request, pk: int):
    """One tap: the next step's dossier, pre-filled with the earlier complaints and the contacts
    after the written notice."""
    complaint = _complaint_for(request.user, pk)
    language = request.POST.get("language") or (
        "en" if profile_for(request.user).language == "en" else "zh-hans"
    )
    try:
        dossier = followup.complaint_escalate(
            complaint=complaint, addressee=request.POST.get("addressee", ""), language=language
        )
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in exc.message_dict.values() for m in ms))
        return redirect("complaint_detail", pk=complaint.pk)
    return redirect("dossier_detail", pk=dossier.pk)
