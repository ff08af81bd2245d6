"""Pages for the account: sign-up, profile, language, API tokens."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.throttling import client_address, hit, parse_rate, peek, throttle, wait_message

from . import services
from .forms import ProfileForm, SignupForm, TokenForm
from .models import ApiToken, language_codes


def too_many(request, seconds: int):
    """429 with Retry-After and a plain page saying how long to wait."""
    response = render(
        request, "message.html", {"title": _("Please wait"), "message": wait_message(seconds)}, status=429
    )
    response["Retry-After"] = str(seconds)
    return response


class ThrottledLoginView(LoginView):
    """Guessing a password stops at LOGIN_RATE from one place, and knowing a user name is not
    enough to lock its owner out.

    Every attempt counts against the client's address; failed ones also against the pair of
    account name and address (both LOGIN_RATE). A throttled address gets 429 whatever it sends,
    while the owner, elsewhere, still logs in. Failures on one account from every address together
    (LOGIN_ACCOUNT_RATE) never refuse anyone: past that limit each attempt on the account first
    waits LOGIN_ACCOUNT_DELAY seconds, a cost to a guesser spread over many addresses and a short
    delay to the owner."""

    def _keys(self) -> tuple[str, str]:
        username = (self.request.POST.get("username") or "").strip().lower()
        return username, f"{username}\x1f{client_address(self.request)}"

    def post(self, request, *args, **kwargs):
        rate = settings.LOGIN_RATE
        if not rate:
            return super().post(request, *args, **kwargs)
        limit, window = parse_rate(rate)
        wait = throttle(request, "login", rate)
        username, pair = self._keys()
        if wait is None and username:
            wait = peek("login-failed", pair, limit=limit, window=window)
        if wait is not None:
            return too_many(request, wait)
        account_rate = settings.LOGIN_ACCOUNT_RATE
        if username and account_rate:
            account_limit, account_window = parse_rate(account_rate)
            if peek("login-account", username, limit=account_limit, window=account_window) is not None:
                time.sleep(settings.LOGIN_ACCOUNT_DELAY)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        username, pair = self._keys()
        if username and settings.LOGIN_RATE:
            limit, window = parse_rate(settings.LOGIN_RATE)
            hit("login-failed", pair, limit=limit, window=window)
            if settings.LOGIN_ACCOUNT_RATE:
                account_limit, account_window = parse_rate(settings.LOGIN_ACCOUNT_RATE)
                hit("login-account", username, limit=account_limit, window=account_window)
        return super().form_invalid(form)


class ThrottledPasswordResetView(PasswordResetView):
    """Reset mails are limited per address (PASSWORD_RESET_RATE) and per e-mail address asked for
    (PASSWORD_RESET_ACCOUNT_RATE), counted whether or not an account has it, so the answer says
    nothing about who has an account and nobody's inbox is flooded."""

    def post(self, request, *args, **kwargs):
        wait = throttle(request, "password-reset", settings.PASSWORD_RESET_RATE)
        email = (request.POST.get("email") or "").strip().lower()
        if wait is None and email and settings.PASSWORD_RESET_ACCOUNT_RATE:
            limit, window = parse_rate(settings.PASSWORD_RESET_ACCOUNT_RATE)
            wait = hit("password-reset-account", email, limit=limit, window=window)
        if wait is not None:
            return too_many(request, wait)
        return super().post(request, *args, **kwargs)


def signup(request):
    """Open, by invitation (SIGNUP_MODE=invite) or closed (the first account: `createsuperuser`)."""
    mode = settings.SIGNUP_MODE
    if mode == "closed":
        return render(
            request,
            "message.html",
            {
                "title": _("Sign-up is closed"),
                "message": _("This site does not take new accounts. Ask the organisation that runs it."),
            },
            status=403,
        )
    if request.method == "POST" and (wait := throttle(request, "signup", settings.SIGNUP_RATE)) is not None:
        return too_many(request, wait)
    if request.user.is_authenticated:
        return redirect("case_list")
    form = SignupForm(request.POST or None, invite=mode == "invite")
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
                if mode == "invite":
                    services.invite_redeem(code=form.cleaned_data["invite_code"], user=user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            if language in language_codes():
                services.profile_update(profile=services.profile_for(user), language=language)
            login(request, user)
            messages.success(request, _("Welcome. Start by creating a case for the debt being collected."))
            return redirect("case_create")
    return render(request, "form.html", {"form": form, "title": _("Sign up"), "submit": _("Create account")})


@login_required
def profile_edit(request):
    profile = services.profile_for(request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.profile_update(profile=profile, **{k: form.cleaned_data[k] for k in form.changed_data})
        messages.success(request, _("Profile saved."))
        return redirect("profile")
    return render(
        request,
        "form.html",
        {
            "form": form,
            "title": _("Profile"),
            "submit": _("Save"),
            "intro": _(
                "Your name, phone and ID number appear in complaints you generate; the ID number only masked."
            ),
        },
    )


@require_POST
def language_switch(request):
    language = request.POST.get("language")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    if language in language_codes():
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
        )
        if request.user.is_authenticated:
            services.profile_update(profile=services.profile_for(request.user), language=language)
    return response


@login_required
def token_list(request):
    form = TokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _token, new_secret = services.token_create(user=request.user, name=form.cleaned_data["name"])
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "accounts/tokens.html", {"form": form, "tokens": tokens, "new_secret": new_secret})


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = ApiToken.objects.filter(user=request.user, pk=pk).first()
    if token is None:
        raise Http404
    services.token_revoke(token=token)
    messages.success(request, _("Token revoked: programs using it can no longer send evidence."))
    return redirect("token_list")
