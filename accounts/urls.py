from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy
from django.utils.translation import gettext_lazy as _

from . import app_manifest, views

FORM = "form.html"
MESSAGE = "message.html"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.ThrottledLoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile_edit, name="profile"),
    path("tokens/", views.token_list, name="token_list"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("recovery-codes/new/", views.recovery_codes_new, name="recovery_codes_new"),
    path("recover/", views.recover, name="recover"),
    path("email/", views.email_change, name="email_change"),
    path("email/confirm/<str:token>/", views.email_confirm, name="email_confirm"),
    path("notifications/", views.notifications, name="notifications"),
    path("push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("pin/", views.pin_settings, name="pin_settings"),
    path("pin/check/", views.pin_check, name="pin_check"),
    path("app.webmanifest", app_manifest.web_manifest, name="web_manifest"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name=FORM,
            extra_context={
                "title": _("Change password"),
                "submit": _("Change password"),
                "intro": _(
                    "Changing your password also revokes every API token: phone automation stops until you "
                    "give it a new token."
                ),
            },
            success_url=reverse_lazy("password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name=MESSAGE,
            extra_context={
                "title": _("Password changed"),
                "message": _(
                    "Your password has been changed. Every API token was revoked; make a new one for phone automation."
                ),
            },
        ),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        views.ThrottledPasswordResetView.as_view(
            template_name=FORM,
            email_template_name="registration/reset_email.txt",
            subject_template_name="registration/reset_subject.txt",
            extra_context={
                "title": _("Reset password"),
                "submit": _("Send reset link"),
                "intro": _("Enter the e-mail address of your account; we will send a link."),
            },
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name=MESSAGE,
            extra_context={
                "title": _("Check your e-mail"),
                "message": _("If an account has that address, a link to set a new password is on its way."),
            },
        ),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name=FORM, extra_context={"title": _("Set a new password"), "submit": _("Save")}
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name=MESSAGE,
            extra_context={
                "title": _("Password set"),
                "message": _("Your new password is set. You can log in now."),
            },
        ),
        name="password_reset_complete",
    ),
]
