"""A complaint dossier: what was issued, to whom, sealed by the hash of its manifest."""

from __future__ import annotations

import json
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Profile
from evidence.models import Case, EvidenceFile, Incident


class Addressee(models.TextChoices):
    ALIPAY = "alipay", _("Alipay customer service (95188)")
    ANT_CONSUMER_FINANCE = (
        "ant_consumer_finance",
        _("Chongqing Ant Consumer Finance (lender of Huabei/Jiebei)"),
    )
    NFRA = "nfra", _("National Financial Regulatory Administration (12378)")
    PBOC = "pboc", _("People's Bank of China (12363)")
    NIFA = "nifa", _("National Internet Finance Association of China")
    POLICE = "police", _("Police (110)")
    CUSTOM = "custom", _("Another recipient")


class DossierStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be built")
    RUNNING = "running", _("Being built")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    # Prepared by a helper on a shared case: nothing is built until the owner issues it.
    DRAFT = "draft", _("Draft by a helper, not issued")


class DossierQuerySet(models.QuerySet):
    def for_owner(self, user):
        return self.filter(owner=user)


class Dossier(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dossiers")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="dossiers")
    addressee = models.CharField(_("addressee"), max_length=30, choices=Addressee.choices)
    addressee_name = models.CharField(_("recipient's name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    date_from = models.DateField(_("from"), null=True, blank=True)
    date_to = models.DateField(_("to"), null=True, blank=True)
    rule_pack = models.CharField(max_length=20, default="cn")
    # The incidents chosen when the dossier was ordered; fixed, so a rebuild covers the same ones.
    incident_ids = models.JSONField(default=list)
    requests = models.JSONField(default=list, blank=True)
    request_text = models.TextField(_("other requests"), blank=True)
    # A regulator's letter states the complaint it follows: {"date", "channel", "ticket", "reply"}.
    earlier_complaint = models.JSONField(default=dict, blank=True)
    # The complaints logged in this app that this dossier follows (ids of Complaint, oldest first):
    # its letter states their dates, channels, ticket numbers and replies (api-v1.md `follows`).
    follows = models.JSONField(default=list, blank=True)
    # The moment the follow-up facts are stated as of (a deadline passed, so many days overdue):
    # the time the dossier was ordered, on the clock deadlines are measured against (clock.now).
    followup_at = models.DateTimeField(null=True, blank=True)
    # The full ID number, only for a recipient that needs it and only when the complainant asks.
    full_id_number = models.BooleanField(default=False)
    # Where the complainant lives and takes written replies (the police report's 住址; the address
    # for the 书面答复 a letter asks for), the police station the report goes to, and the harm in
    # the person's own words. Asked in the builder; empty for dossiers ordered before they were.
    contact_address = models.CharField(
        _("your address"), max_length=300, blank=True, default="", db_default=""
    )
    police_station = models.CharField(
        _("police station"), max_length=200, blank=True, default="", db_default=""
    )
    harm = models.TextField(_("harm done"), blank=True, default="", db_default="")
    reissue_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The helper who drafted it on a shared case (null: the owner's own).
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    status = models.CharField(max_length=10, choices=DossierStatus.choices, default=DossierStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)

    # The audit chain head when the dossier was ordered; the manifest states it.
    chain_seq = models.PositiveBigIntegerField(default=0)
    chain_hash = models.CharField(max_length=64, blank=True)

    manifest = models.TextField(blank=True, help_text="canonical JSON; seal = sha256 of its UTF-8 bytes")
    seal = models.CharField(max_length=64, blank=True, db_index=True)
    pdf_name = models.CharField(max_length=255, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    pdf_size = models.PositiveBigIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    signed = models.BooleanField(default=False)
    timestamped = models.BooleanField(default=False)
    font_warning = models.CharField(max_length=300, blank=True)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running build moves this with its progress and at least every DOSSIER_HEARTBEAT_SECONDS; one
    # that stops moving for DOSSIER_STALL_SECONDS is a build whose worker died (complaints.services.
    # dossier_sweep). `attempts` counts the builds started since the dossier was ordered or a person
    # asked for a retry; `build_seq` counts every build ever started and is the current build's token,
    # so a superseded build cannot write over its successor's progress.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    build_seq = models.PositiveIntegerField(default=0)
    # VERIFY.txt as written at issue: every later download of the bundle carries these exact bytes,
    # and verification compares with them, so rewording the instructions in a later release never
    # turns a bundle already sent into "not intact". Null for dossiers issued before it was kept.
    verify_text = models.TextField(null=True, blank=True)  # noqa: DJ001 (null: issued before it was kept)

    objects = DossierQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        """CE-<the owner's local date of ordering>-<id>. An issued dossier's number is the one sealed
        in its manifest: those issued before numbers used the local date carry the UTC date, and
        their PDF, bundle and VERIFY.txt state that number."""
        if not (self.pk and self.created_at):
            return "CE-new"
        if self.manifest:
            sealed = self._sealed_number()
            if sealed:
                return sealed
        zone = (
            Profile.objects.filter(user_id=self.owner_id).values_list("time_zone", flat=True).first()
            or Profile._meta.get_field("time_zone").default
        )
        try:
            local = self.created_at.astimezone(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            local = self.created_at
        return f"CE-{local:%Y%m%d}-{self.pk:06d}"

    def _sealed_number(self) -> str | None:
        cached = self.__dict__.get("_sealed_number_cache")
        if cached is not None and cached[0] is self.manifest:
            return cached[1]
        try:
            number = json.loads(self.manifest)["dossier"]["number"]
        except (ValueError, TypeError, KeyError):
            number = None
        if not isinstance(number, str):
            number = None
        self.__dict__["_sealed_number_cache"] = (self.manifest, number)
        return number

    @property
    def is_issued(self) -> bool:
        return self.status == DossierStatus.READY


class WorkerHeartbeat(models.Model):
    """One row per running `manage.py worker` process, touched every WORKER_HEARTBEAT_SECONDS.

    A worker not seen for `down_after_seconds` (twice its interval plus a grace) is down: the task
    rows it was running are orphans. A worker that stops cleanly deletes its row."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)
    down_after_seconds = models.FloatField()

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.host}:{self.pid})"


class Lease(models.Model):
    """A named lease, so periodic work started from several places (workers, cron) runs once at a
    time: taken by an UPDATE that only matches an expired lease."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class IssuedSeal(models.Model):
    """What this server issued, kept when the dossier's owner deletes the case or the account: the
    verify page then still says "issued by this server on …" for a dossier already in a recipient's
    hands, instead of "never issued". Nothing personal: the seal (a hash), the number, the PDF's
    hash and the dates. Written with the dossier, in the same transaction."""

    seal = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=40)
    pdf_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The sha256 of the VERIFY.txt written at issue (null before it was kept, and for notices).
    verify_text_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    def __str__(self) -> str:
        return f"{self.number} {self.seal[:12]}"


# --- after the dossier: the stop-contact notice, complaints sent, replies, reminders ---------------


class Channel(models.TextChoices):
    """How a complaint (or a notice) was sent."""

    PHONE = "phone", _("Phone call (e.g. 95188, 12378)")
    ONLINE_CHAT = "online_chat", _("Online customer-service chat")
    WEB_FORM = "web_form", _("Web form")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    IN_PERSON = "in_person", _("In person")


class AllowedChannel(models.TextChoices):
    """The one way a notice lets the lender reach the person; each value is the kind of incident
    such a contact is logged as, so the rules can tell a contact through it from one outside it."""

    APP_MESSAGE = "app_message", _("Messages in the Alipay or lender app")
    SMS = "sms", _("Text messages (SMS)")
    CALL = "call", _("Phone calls to my own number")
    LETTER = "letter", _("Letters by post")


class NoticeQuerySet(models.QuerySet):
    def for_owner(self, user):
        return self.filter(owner=user)


class StopNotice(models.Model):
    """A written stop-contact notice (书面告知函) to the lender: the only channel and hours the person
    accepts, no third parties, consent to processing contacts' data withdrawn (《个人信息保护法》第十五条).
    Sealed (sha256 of its manifest) and signed like a dossier; immutable once made, except for the
    record of when and how it was sent."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="stop_notices")
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    allowed_channel = models.CharField(
        _("the only channel you accept"), max_length=20, choices=AllowedChannel.choices
    )
    hours_from = models.TimeField(_("contact allowed from"))
    hours_until = models.TimeField(_("contact allowed until"))
    text = models.TextField(help_text="the notice as plain text, for pasting into a chat")
    manifest = models.TextField(help_text="canonical JSON; seal = sha256 of its UTF-8 bytes")
    seal = models.CharField(max_length=64, db_index=True)
    pdf_name = models.CharField(max_length=255)
    pdf_sha256 = models.CharField(max_length=64)
    pdf_size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # When and how the person sent it, and what shows it (a screenshot or recording, kept as
    # evidence under an incident of the case).
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    sent_channel = models.CharField(_("sent through"), max_length=20, choices=Channel.choices, blank=True)
    proof = models.ForeignKey(
        EvidenceFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proof_incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stop-contact notice")
        verbose_name_plural = _("stop-contact notices")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"TZ-{self.created_at:%Y%m%d}-{self.pk:06d}" if self.pk and self.created_at else "TZ-new"


class Outcome(models.TextChoices):
    RESOLVED = "resolved", _("Resolved")
    PARTLY = "partly", _("Partly resolved")
    REJECTED = "rejected", _("Rejected")
    OTHER = "other", _("Other")


class ComplaintStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for a reply")
    ANSWERED = "answered", _("Answered")
    OVERDUE = "overdue", _("Overdue")
    CLOSED = "closed", _("Closed")


class ComplaintQuerySet(models.QuerySet):
    def for_owner(self, user):
        return self.filter(owner=user)


class Complaint(models.Model):
    """A complaint the person sent (by phone, chat, web form, letter, e-mail or in person), with the
    reply deadline that runs from it (complaints/deadlines.toml)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="complaints")
    addressee = models.CharField(_("to"), max_length=30, choices=Addressee.choices)
    addressee_name = models.CharField(_("recipient's name"), max_length=200, blank=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    sent_at = models.DateTimeField(_("sent at"))
    ticket_number = models.CharField(_("ticket number (工单号/受理编号)"), max_length=100, blank=True)
    dossier = models.ForeignKey(
        Dossier, null=True, blank=True, on_delete=models.SET_NULL, related_name="complaints_sent"
    )
    # Which deadline of the addressee's applies (deadlines.toml options: the standard 15 days, or an
    # extension the institution announced).
    deadline = models.CharField(_("reply deadline"), max_length=20, default="standard")
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        ordering = ["sent_at", "id"]
        verbose_name = _("complaint sent")
        verbose_name_plural = _("complaints sent")

    def __str__(self) -> str:
        return f"{self.get_addressee_display()} {self.sent_at:%Y-%m-%d}"


class ComplaintReply(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="replies")
    received_at = models.DateTimeField(_("received at"))
    text = models.TextField(_("what they replied"))
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    # A screenshot of the reply, a recording of the call back: evidence under an incident of the case.
    evidence = models.ForeignKey(
        EvidenceFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.complaint} → {self.outcome}"


class Reminder(models.Model):
    """A reminder e-mail sent about a complaint's deadline. The unique constraint makes it exactly
    once: the row is inserted in the transaction that sends the mail, so a second worker running the
    same reminder waits for the first and then finds it taken."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=[(DUE_SOON, "due soon"), (OVERDUE, "overdue")])
    # The deadline it was about: an extension moves the deadline, and the new one is reminded of.
    due = models.DateField()
    recipient = models.CharField(max_length=254)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["complaint", "kind", "due"], name="one_reminder_per_deadline")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.due} ({self.complaint_id})"
