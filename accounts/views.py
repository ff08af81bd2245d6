"""Pages for the account: sign-up, profile, language, API tokens, recovery codes and the e-mail address."""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.throttling import client_address, hit, parse_rate, peek, throttle, wait_message

from . import push, services
from .forms import (
    EmailChangeForm,
    PasswordConfirmForm,
    PinForm,
    ProfileForm,
    RecoverForm,
    SignupForm,
    TokenForm,
)
from .models import ApiToken, Notification, language_codes
from .throttles import recover_failed, recover_wait

AFTER_CODES_SESSION_KEY = "after_recovery_codes"
NEW_CODES_SESSION_KEY = "accounts.new_recovery_codes"


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
            # The first recovery codes, shown once on the next page (then gone from the session).
            request.session[NEW_CODES_SESSION_KEY] = services.recovery_codes_create(user=user)
            # A helper who came from an invitation link goes on to accept it after saving the codes.
            following = request.POST.get("next") or request.GET.get("next") or ""
            if following and url_has_allowed_host_and_scheme(
                following, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                request.session[AFTER_CODES_SESSION_KEY] = following
            else:
                messages.success(
                    request, _("Welcome. Start by creating a case for the debt being collected.")
                )
            return redirect("recovery_codes_new")
    return render(request, "form.html", {"form": form, "title": _("Sign up"), "submit": _("Create account")})


@login_required
def profile_edit(request):
    profile = services.profile_for(request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.profile_update(profile=profile, **{k: form.cleaned_data[k] for k in form.changed_data})
        messages.success(request, _("Profile saved."))
        # A detour from the dossier builder ("Add them") returns to the builder, not to the profile.
        back = request.GET.get("next") or ""
        if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            return redirect(back)
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


# --- recovery codes and the e-mail address ----------------------------------------------------------


@login_required
def recovery_codes_new(request):
    """The codes made at sign-up, shown once: they leave the session as this page is rendered."""
    codes = request.session.pop(NEW_CODES_SESSION_KEY, None)
    if not codes:
        return redirect("recovery_codes")
    following = request.session.pop(AFTER_CODES_SESSION_KEY, "")
    return render(
        request,
        "accounts/recovery_codes.html",
        {"codes": codes, "next": "case_create", "next_path": following, "first": True},
    )


@login_required
def recovery_codes(request):
    """How many codes are left; a new set for the password (the earlier ones stop working)."""
    form = PasswordConfirmForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if (wait := recover_wait(request, request.user.get_username())) is not None:
            return too_many(request, wait)
        if form.is_valid():
            codes = services.recovery_codes_create(user=request.user)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": "profile"})
        recover_failed(request, request.user.get_username())
    return render(
        request,
        "accounts/recovery_codes.html",
        {"form": form, "left": services.recovery_codes_left(user=request.user)},
    )


def recover(request):
    """A new password with a recovery code, without e-mail and without being logged in."""
    form = RecoverForm(request.POST or None)
    if request.method == "POST":
        username = (request.POST.get("username") or "").strip()
        if (wait := recover_wait(request, username)) is not None:
            return too_many(request, wait)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.account_recover(
                    username=data["username"], code=data["code"], new_password=data["new_password1"]
                )
            except ValidationError as exc:
                if "code" in exc.message_dict:
                    recover_failed(request, username)
                for field, errors in exc.message_dict.items():
                    form.add_error({"new_password": "new_password1"}.get(field, field), errors)
            else:
                left = services.recovery_codes_left(user=user)
                return render(
                    request,
                    "message.html",
                    {
                        "title": _("New password set"),
                        "message": _(
                            "Your new password is set and the code you used no longer works "
                            "(%(left)d codes left). Log in with the new password."
                        )
                        % {"left": left},
                        "next_url": "login",
                        "next_label": _("Log in"),
                    },
                )
    return render(
        request,
        "form.html",
        {
            "form": form,
            "title": _("Set a new password with a recovery code"),
            "submit": _("Set new password"),
            "intro": _("No e-mail needed: each recovery code you saved at sign-up works once."),
        },
    )


@login_required
def email_change(request):
    form = EmailChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if (wait := throttle(request, "email-change", settings.PASSWORD_RESET_RATE)) is not None:
            return too_many(request, wait)
        try:
            services.email_change_request(
                user=request.user,
                email=form.cleaned_data["email"],
                confirm_url=lambda token: request.build_absolute_uri(reverse("email_confirm", args=[token])),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("A link is on its way to %(email)s. The address is used once you open it.")
                % {"email": form.cleaned_data["email"]},
            )
            return redirect("profile")
    current = request.user.email
    return render(
        request,
        "form.html",
        {
            "form": form,
            "title": _("E-mail address"),
            "submit": _("Send confirmation link"),
            "intro": _("Now: %(email)s.") % {"email": current} if current else _("No e-mail address yet."),
        },
    )


def email_confirm(request, token: str):
    try:
        user = services.email_confirm(token=token)
    except ValidationError:
        return render(
            request,
            "message.html",
            {"title": _("E-mail address"), "message": _("This link is no longer valid. Ask for a new one.")},
            status=400,
        )
    return render(
        request,
        "message.html",
        {
            "title": _("E-mail address confirmed"),
            "message": _("%(email)s is now the address of your account.") % {"email": user.email},
        },
    )


# --- reminders: the in-app list and this browser's push subscription ----------------------------------


@login_required
def notifications(request):
    if request.method == "POST":
        push.notifications_mark_read(user=request.user)
        return redirect("notifications")
    items = list(Notification.objects.filter(user=request.user)[:100])
    return render(
        request,
        "accounts/notifications.html",
        {"notifications": items, "unread": any(n.read_at is None for n in items)},
    )


@login_required
@require_POST
def push_subscribe(request):
    """The page's own subscription call (session and CSRF; the API takes bearer tokens):
    {"endpoint", "keys": {"p256dh", "auth"}} → 201 {"id"}."""
    try:
        data = json.loads(request.body or b"{}")
        endpoint, keys = data["endpoint"], data["keys"]
        p256dh, auth = keys["p256dh"], keys["auth"]
        if not all(isinstance(v, str) and v for v in (endpoint, p256dh, auth)):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"error": {"code": "invalid", "message": _("Send the browser's push subscription as JSON.")}},
            status=400,
        )
    try:
        subscription = push.subscription_save(user=request.user, endpoint=endpoint, p256dh=p256dh, auth=auth)
    except ValidationError as exc:
        return JsonResponse(
            {
                "error": {
                    "code": "invalid",
                    "message": _("Some fields are not valid."),
                    "fields": exc.message_dict,
                }
            },
            status=400,
        )
    return JsonResponse({"id": subscription.pk}, status=201)


# --- the app's lock and the quick exit ---------------------------------------------------------------

PIN_FAILURES = 5  # wrong PINs before the lock refuses every try for PIN_WINDOW seconds
PIN_WINDOW = 15 * 60


@login_required
def pin_settings(request):
    profile = services.profile_for(request.user)
    form = PinForm(request.POST or None, initial={"lock_minutes": profile.lock_minutes})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["pin"]:
                services.pin_set(
                    user=request.user,
                    password=data["password"],
                    pin=data["pin"],
                    lock_minutes=data["lock_minutes"],
                )
                messages.success(
                    request, _("The lock is on: the PIN is asked after the time you chose away.")
                )
            else:
                services.pin_clear(user=request.user, password=data["password"])
                messages.success(request, _("The lock is off."))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("profile")
    return render(
        request,
        "form.html",
        {
            "form": form,
            "title": _("Lock with a PIN"),
            "submit": _("Save"),
            "intro": _(
                "After the time you choose with this app in the background, it asks for the PIN before "
                "showing anything. Your password still protects the account itself."
            )
            + (" " + _("The lock is on.") if profile.pin_hash else ""),
        },
    )


@login_required
@require_POST
def pin_check(request):
    """{"pin"} → 200 when it matches; 400 when not; after PIN_FAILURES wrong ones, 429 for a while
    whatever is sent (so five guesses are all anyone standing by gets)."""
    key = str(request.user.pk)
    if (wait := peek("pin-failed", key, limit=PIN_FAILURES, window=PIN_WINDOW)) is not None:
        response = JsonResponse({"error": {"code": "throttled", "message": wait_message(wait)}}, status=429)
        response["Retry-After"] = str(wait)
        return response
    try:
        pin = json.loads(request.body or b"{}").get("pin", "")
    except (ValueError, AttributeError):
        pin = ""
    if services.pin_matches(user=request.user, pin=pin if isinstance(pin, str) else ""):
        return JsonResponse({"ok": True})
    hit("pin-failed", key, limit=PIN_FAILURES, window=PIN_WINDOW)
    return JsonResponse({"error": {"code": "wrong_pin", "message": _("Wrong PIN.")}}, status=400)
