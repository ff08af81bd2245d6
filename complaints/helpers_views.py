"""Pages for sharing a case with a helper (issue 30): the owner's invitations and access log, the
helper's accepting page and their list of shared cases with what is due."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from evidence import shares
from evidence.models import Case, CaseShare, ShareRole

from .followup import standing
from .models import Complaint, Dossier, DossierStatus

SESSION_NEW_CODE = "share_new_code"
EXPIRY_CHOICES = [(7, gettext_lazy("7 days")), (30, gettext_lazy("30 days")), (90, gettext_lazy("90 days"))]


class ShareForm(forms.Form):
    role = forms.ChoiceField(
        label=gettext_lazy("What they may do"),
        choices=[
            (ShareRole.READ, gettext_lazy("Read: see the case, its evidence, findings and dossiers")),
            (
                ShareRole.ASSIST,
                gettext_lazy("Assist: also log incidents, draft dossiers, log complaints and replies"),
            ),
        ],
        widget=forms.RadioSelect,
        initial=ShareRole.READ,
    )
    days = forms.TypedChoiceField(
        label=gettext_lazy("For how long"), choices=EXPIRY_CHOICES, coerce=int, initial=30
    )
    note = forms.CharField(
        label=gettext_lazy("Note (who it is for)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("e.g. Lawyer Wang, legal aid centre")}),
    )


class AcceptForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Invitation code"), max_length=40)


@login_required
def case_shares(request, pk: int):
    """The owner: invite a helper, see each share's state, end one, read the access log."""
    case, _role = shares.case_with_role(request.user, pk, shares.OWNER)
    form = ShareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            share, code = shares.share_create(
                case=case,
                role=form.cleaned_data["role"],
                expires_at=timezone.now() + timedelta(days=form.cleaned_data["days"]),
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            # Shown once, on the next page load only: the server keeps just its SHA-256.
            request.session[SESSION_NEW_CODE] = {"share": share.pk, "code": code}
            return redirect("case_shares", pk=case.pk)
    new = request.session.pop(SESSION_NEW_CODE, None)
    invitation = None
    if new:
        invitation = {
            "code": shares.format_code(new["code"]),
            "url": request.build_absolute_uri(reverse("share_accept"))
            + f"?code={shares.format_code(new['code'])}",
        }
    return render(
        request,
        "complaints/case_shares.html",
        {
            "case": case,
            "form": form,
            "invitation": invitation,
            "shares": shares.shares_of(case),
            "log": shares.access_log(case)[:200],
        },
    )


@login_required
@require_POST
def share_revoke(request, pk: int):
    share = get_object_or_404(CaseShare.objects.select_related("case"), pk=pk)
    shares.case_with_role(request.user, share.case_id, shares.OWNER)
    shares.share_revoke(share=share)
    messages.success(request, _("The share has ended: the helper can no longer see this case."))
    return redirect("case_shares", pk=share.case_id)


@login_required
@require_POST
def share_agent(request, pk: int):
    """The owner names the helper as 代理人 on letters (or stops)."""
    share = get_object_or_404(CaseShare.objects.select_related("case"), pk=pk)
    shares.case_with_role(request.user, share.case_id, shares.OWNER)
    agent = request.POST.get("agent") == "1"
    try:
        shares.share_set_agent(share=share, agent=agent)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Letters built from now name this helper as your agent (代理人), with their contact.")
            if agent
            else _("Letters built from now no longer name this helper."),
        )
    return redirect("case_shares", pk=share.case_id)


@login_required
def share_accept(request):
    """The helper, signed in (or just signed up), takes the invitation."""
    form = AcceptForm(request.POST or None, initial={"code": request.GET.get("code", "")})
    if request.method == "POST" and form.is_valid():
        try:
            share = shares.share_accept(helper=request.user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("code", message)
        else:
            messages.success(
                request,
                _("You can now see “%(title)s” (%(role)s). Every look you take is recorded for the owner.")
                % {"title": share.case.title, "role": share.get_role_display()},
            )
            return redirect("case_detail", pk=share.case_id)
    return render(request, "complaints/share_accept.html", {"form": form})


@login_required
def shared_cases(request):
    """The helper's list: each case shared with them, the reply deadlines and the dossiers to review."""
    roles = shares.roles_by_case(request.user)
    expiry = dict(
        shares.active_shares(request.user).order_by("expires_at").values_list("case_id", "expires_at")
    )
    rows = []

    for case in Case.objects.filter(pk__in=roles).select_related("owner").order_by("-created_at"):
        due = []
        for complaint in Complaint.objects.filter(case=case, closed_at__isnull=True).prefetch_related(
            "replies"
        ):
            state = standing(complaint)
            if state.status in ("waiting", "overdue"):
                due.append({"complaint": complaint, "state": state})
        due.sort(key=lambda row: row["state"].due)
        rows.append(
            {
                "case": case,
                "role": roles[case.pk],
                "owner": shares.helper_name(case.owner),
                "expires_at": expiry.get(case.pk),
                "due": due,
                "drafts": Dossier.objects.filter(case=case, status=DossierStatus.DRAFT).order_by("-pk"),
                "dossiers": Dossier.objects.filter(case=case, status=DossierStatus.READY).order_by("-pk")[:5],
            }
        )
    return render(request, "complaints/shared_cases.html", {"rows": rows})
