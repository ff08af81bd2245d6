"""The evidence store: who is harassed, over which debt, what happened, and the files that show it."""

from __future__ import annotations

import hashlib
from datetime import UTC

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ledger.models import canonical_json


class Creditor(models.TextChoices):
    HUABEI = "huabei", _("Huabei (Alipay)")
    JIEBEI = "jiebei", _("Jiebei (Alipay)")
    BAITIAO = "baitiao", _("JD Baitiao")
    MEITUAN = "meituan", _("Meituan Yuefu")
    BANK_CARD = "bank_card", _("Bank card")
    OTHER = "other", _("Other")


# The lender behind each product, suggested when a case is created. Data, not code paths.
DEFAULT_LENDERS = {
    Creditor.HUABEI: "重庆蚂蚁消费金融有限公司",
    Creditor.JIEBEI: "重庆蚂蚁消费金融有限公司",
}


class CaseQuerySet(models.QuerySet):
    def for_owner(self, user):
        return self.filter(owner=user)


class Case(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cases")
    title = models.CharField(_("title"), max_length=200)
    creditor = models.CharField(_("creditor"), max_length=20, choices=Creditor.choices)
    lender_name = models.CharField(
        _("lender's legal name"),
        max_length=200,
        blank=True,
        help_text=_("For Huabei and Jiebei: 重庆蚂蚁消费金融有限公司."),
    )
    account_hint = models.CharField(
        _("account hint"), max_length=40, blank=True, help_text=_("Last digits only, never the full number.")
    )
    collectors = models.TextField(
        _("collectors seen"), blank=True, help_text=_("Agency names and phone numbers, one per line.")
    )
    notes = models.TextField(_("notes"), blank=True)
    rule_pack = models.CharField(
        _("rules to check against"),
        max_length=20,
        default="cn",
        help_text=_("The jurisdiction whose collection rules are checked."),
    )
    # Legal hold (e.g. a lawsuit is pending): while set, nothing in the case can be deleted.
    hold_at = models.DateTimeField(_("on hold since"), null=True, blank=True, editable=False)
    hold_reason = models.CharField(_("reason for the hold"), max_length=200, blank=True, editable=False)
    # Counts per rule id, refreshed with the incidents' findings; the case summary reads it in O(1).
    violation_summary = models.JSONField(default=dict, blank=True, editable=False)
    # Facts from outside the evidence store that the rules need, kept current by the complaints app:
    # the written stop-contact notices sent ({"notices": [{"sent_at", "date", "channels", "hours"}]})
    # and the person's own follow-up entries (a notice's proof, a reply's screenshot: "own"), which
    # are not collection events. Plain data, so the rule engine never reads the layer above it.
    rule_context = models.JSONField(default=dict, blank=True, editable=False)
    # When the debt began (third wave): entries before it are left out of imports unless the person
    # ticks them in, and a dossier's period starts here. Null on cases made before the field existed.
    period_start = models.DateField(_("debt started on"), null=True, blank=True)
    # The last evidence number given in this case (E-0001, E-0002, …): numbers are handed out once,
    # in order of entry, and never reused or changed, so every dossier calls an event the same.
    last_ref = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def snapshot(self) -> dict:
        data = {
            f: getattr(self, f)
            for f in ("title", "creditor", "lender_name", "account_hint", "collectors", "notes", "rule_pack")
        }
        # Added in the third wave: present only when set, so earlier records describe the same facts.
        if self.period_start is not None:
            data["period_start"] = self.period_start.isoformat()
        return data


class IncidentKind(models.TextChoices):
    CALL = "call", _("Call")
    SMS = "sms", _("SMS")
    VISIT = "visit", _("Home visit")
    THIRD_PARTY = "third_party", _("Third-party contact")
    LETTER = "letter", _("Letter")
    APP_MESSAGE = "app_message", _("App message")
    OTHER = "other", _("Other")


class Contacted(models.TextChoices):
    SELF = "self", _("Me")
    FAMILY = "family", _("Family")
    EMPLOYER = "employer", _("Employer")
    COLLEAGUE = "colleague", _("Colleague")
    FRIEND = "friend", _("Friend")
    CONTACTS_LIST = "contacts_list", _("Phone contacts list")


class Flag(models.TextChoices):
    THREAT = "threat", _("Threat")
    INSULT = "insult", _("Insult")
    IMPERSONATION = "impersonation", _("Posed as police, a court or another official")
    IMPERSONATED_LAWYER = "impersonated_lawyer", _("Posed as a lawyer or law firm")
    FAKE_LEGAL_DOCUMENT = "fake_legal_document", _("Fake legal document")
    DISCLOSURE = "disclosure", _("Told others about the debt")
    VIOLENCE = "violence", _("Violence")
    ENTERED_HOME = "entered_home", _("Entered the home")
    POSTED_NOTICE = "posted_notice", _("Posted notices")


class Source(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    IMPORT = "import", _("Imported from the phone")
    API = "api", _("Sent by phone automation")


# Directions of imported entries that the person made, not the collectors: calls they dialled,
# messages they sent. Written at import into `source_ref` ("calls.xml #7 (outgoing)").
OWN_DIRECTIONS = ("outgoing", "sent", "outbox", "queued", "failed", "draft")


def own_entries_q() -> models.Q:
    """Imported entries the person made themselves: never counted or judged as collection events."""
    q = models.Q()
    for direction in OWN_DIRECTIONS:
        q |= models.Q(source_ref__endswith=f"({direction})")
    return models.Q(source="import") & q


def export_holders_q() -> models.Q:
    """The entries that only hold a phone export kept as evidence (evidence.imports._export_evidence):
    made when a log was imported, by this release and every earlier one. Imported entries always
    carry an import key; the holder is the imported "other" entry without one."""
    return models.Q(source="import", import_key="", kind="other")


def own_actions_q(case: Case | None = None) -> models.Q:
    """Entries that record the person's own actions, not a collector's contact: a phone export
    imported, and (from the case's rule context, kept by the complaints app) the proof that a
    stop-contact notice was sent or a reply's screenshot. They keep their files as evidence but are
    never counted, listed among contacts, judged by a rule or put in a dossier's statistics."""
    q = export_holders_q()
    own = (case.rule_context or {}).get("own") if case is not None else None
    if own:
        q |= models.Q(pk__in=own)
    return q


REF_FORMAT = "E-{:04d}"


def refs_take(case_id: int, count: int) -> list[str]:
    """The case's next `count` evidence numbers. The counter's row is updated first, so concurrent
    writers to one case queue behind each other and never hand out a number twice."""
    if count <= 0:
        return []
    with transaction.atomic():
        Case.objects.filter(pk=case_id).update(last_ref=models.F("last_ref") + count)
        last = Case.objects.filter(pk=case_id).values_list("last_ref", flat=True).get()
    return [REF_FORMAT.format(n) for n in range(last - count + 1, last + 1)]


class IncidentQuerySet(models.QuerySet):
    def for_owner(self, user):
        return self.filter(case__owner=user)

    def contacts(self, case: Case | None = None):
        """Collection contacts only: without the entries of the person's own actions."""
        return self.exclude(own_actions_q(case))


class Incident(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(_("kind"), max_length=20, choices=IncidentKind.choices)
    # None when the time could not be read (a recording with no time in its name or metadata): it
    # is never given the upload time, and time-based rules skip it until the person sets it.
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)
    answered = models.BooleanField(_("answered"), null=True, blank=True)
    counterpart_number = models.CharField(_("their number"), max_length=64, blank=True)
    counterpart_name = models.CharField(_("their name"), max_length=100, blank=True)
    agency = models.CharField(_("agency"), max_length=200, blank=True)
    contacted = models.JSONField(_("who was contacted"), default=list, blank=True)
    flags = models.JSONField(_("what they did"), default=list, blank=True)
    visitors = models.PositiveSmallIntegerField(_("number of visitors"), null=True, blank=True)
    description = models.TextField(_("what happened"), blank=True)
    # Their words, verbatim, with where they are in a recording: [{"at": seconds or null, "text": "…"}].
    quotes = models.JSONField(_("quotes"), default=list, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    # Server time of the first entry; never editable, so "logged N minutes after" is trustworthy.
    logged_at = models.DateTimeField(_("logged at"), default=timezone.now, editable=False)
    amended_at = models.DateTimeField(_("last amended"), null=True, blank=True, editable=False)
    # Derived by the rule engine (complaints.rules) whenever the case's incidents change; never
    # stated by the user, so not part of the audit snapshot. `violation_rules` holds the rule ids
    # as " A B " so the timeline can filter by rule with a portable LIKE.
    violations = models.JSONField(default=list, blank=True, editable=False)
    violation_rules = models.CharField(max_length=500, blank=True, default="", editable=False)
    # Imported incidents: the phone export they came from (kept as evidence), and a key that is the
    # same for the same call or message in any later, overlapping backup.
    source_evidence = models.ForeignKey(
        "EvidenceFile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="derived_incidents",
        editable=False,
    )
    source_ref = models.CharField(max_length=100, blank=True, editable=False)
    import_key = models.CharField(max_length=40, blank=True, default="", editable=False)
    # Where the incident is known from, beyond its first entry: [{"kind": "recording" | "import" |
    # …, "ref": str}]. A later entry for the same real event joins the incident here instead of
    # becoming a second row (evidence.merging).
    sources = models.JSONField(default=list, blank=True, editable=False)
    # The case's evidence number for this incident ("E-0007"), given once at creation (third wave).
    ref = models.CharField(
        _("evidence number"), max_length=12, blank=True, default="", db_default="", editable=False
    )
    # A helper who entered the incident on the owner's case (null: the owner, or an import).
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    # Where it happened (a visit): typed text, and the phone's position when the person allowed it:
    # {"lat": float, "lon": float, "accuracy_m": float}.
    place = models.CharField(_("place"), max_length=300, blank=True, default="", db_default="")
    location = models.JSONField(_("location"), null=True, blank=True)
    # Values another source gave for a field the person typed: [{"field", "value", "source"}]. The
    # typed value stays until the person chooses (an audited amendment). Null on older rows.
    conflicts = models.JSONField(null=True, blank=True, default=list, editable=False)

    objects = IncidentQuerySet.as_manager()

    # The fields a user states about an incident; amendments record these before and after.
    STATED_FIELDS = (
        "kind",
        "occurred_at",
        "duration_seconds",
        "answered",
        "counterpart_number",
        "counterpart_name",
        "agency",
        "contacted",
        "flags",
        "visitors",
        "description",
        "quotes",
        # Where it happened (third wave): a typed address and the phone's position, when given.
        "place",
        "location",
    )

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # The case timeline: newest first (id breaks ties), filtered by kind and date range. With
            # id in the index the database reads one page straight off it, however large the case.
            models.Index(fields=["case", "occurred_at", "id"], name="incident_case_time_id"),
            models.Index(fields=["case", "kind", "occurred_at"], name="incident_case_kind_time"),
        ]
        constraints = [
            # Importing the same entry twice is impossible, not merely avoided.
            models.UniqueConstraint(
                fields=["case", "import_key"],
                condition=~models.Q(import_key=""),
                name="incident_unique_import_key",
            ),
            models.UniqueConstraint(
                fields=["case", "ref"], condition=~models.Q(ref=""), name="incident_unique_ref"
            ),
        ]

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M}" if self.occurred_at else "?"
        return f"{self.get_kind_display()} {when}"

    def save(self, *args, **kwargs):
        if not self.ref and self._state.adding and self.case_id:
            (self.ref,) = refs_take(self.case_id, 1)
        super().save(*args, **kwargs)

    @property
    def time_status(self) -> str:
        return "known" if self.occurred_at is not None else "unknown"

    def snapshot(self) -> dict:
        return self.snapshot_of({f: getattr(self, f) for f in self.STATED_FIELDS})

    @classmethod
    def snapshot_of(cls, values: dict) -> dict:
        """The stated facts as the audit chain records them, from a row's values."""
        data = {f: values.get(f) for f in cls.STATED_FIELDS}
        # Fields added after the first release appear only when set, so snapshots recorded before
        # them still describe the same facts.
        for optional in ("quotes", "place", "location"):
            if not data.get(optional):
                data.pop(optional, None)
        # Always in UTC, so the same instant gives the same text whichever zone it was entered in.
        data["occurred_at"] = data["occurred_at"].astimezone(UTC).isoformat() if data["occurred_at"] else None
        return data

    @staticmethod
    def facts_digest(snapshot: dict) -> str:
        """A short digest of one snapshot: an import records one per entry instead of every field."""
        return hashlib.sha256(canonical_json(snapshot)).hexdigest()[:32]

    def contacted_labels(self) -> list[str]:
        return [str(Contacted(c).label) for c in self.contacted if c in Contacted.values]

    def flag_labels(self) -> list[str]:
        return [str(Flag(f).label) for f in self.flags if f in Flag.values]

    def location_text(self) -> str:
        """The phone's position as a reader can check it on any map ("" when none was given)."""
        where = self.location
        if not isinstance(where, dict) or where.get("lat") is None or where.get("lon") is None:
            return ""
        text = str(_("latitude %(lat).6f, longitude %(lon).6f")) % {"lat": where["lat"], "lon": where["lon"]}
        if where.get("accuracy_m") is not None:
            text += str(_(" (accurate to about %(metres)d m, as the phone measured it)")) % {
                "metres": round(where["accuracy_m"])
            }
        return text


class Provenance(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    IMPORTED = "imported", _("Imported")
    RECORDED = "recorded", _("Recorded in this app")


class EvidenceQuerySet(models.QuerySet):
    def for_owner(self, user):
        return self.filter(owner=user)


class ShownEvidenceManager(models.Manager.from_queryset(EvidenceQuerySet)):
    """Evidence as pages, the API and new dossiers see it: without files the owner deleted that an
    issued dossier or a phone import still needs (those are withdrawn, not destroyed)."""

    def get_queryset(self):
        return super().get_queryset().filter(withdrawn_at__isnull=True)


class EvidenceFile(models.Model):
    # The owner is kept on the row too: blob names are per owner and ownership checks stay one hop.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="evidence")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="evidence")
    storage_name = models.CharField(max_length=255)
    # The object version written when the file arrived (object storage with versioning); evidence is
    # always read at this version. Empty on storage without versions.
    storage_version = models.CharField(max_length=200, blank=True, default="")
    original_name = models.CharField(_("original file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField("SHA-256", max_length=64, db_index=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, editable=False)
    metadata = models.JSONField(_("extracted metadata"), default=dict, blank=True)
    provenance = models.CharField(
        _("provenance"), max_length=10, choices=Provenance.choices, default=Provenance.UPLOADED
    )

    # Set when the owner deletes a file that must be kept: an issued dossier lists it, or a phone
    # import still reads it. Hidden everywhere but in verification and in the bundles that cite it.
    withdrawn_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why it must be kept: "dossier CE-20261130-000001", one entry per issued dossier that lists it.
    holds = models.JSONField(default=list, blank=True, editable=False)

    objects = ShownEvidenceManager()
    all_objects = EvidenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/") or self.content_type == "video/webm"

    @property
    def duration_seconds(self):
        return self.metadata.get("duration_seconds")

    def snapshot(self) -> dict:
        return {
            "incident": self.incident_id,
            "original_name": self.original_name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "storage_name": self.storage_name,
            "received_at": self.received_at.isoformat(),
        }


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be imported")
    RUNNING = "running", _("Being imported")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


class PhoneImport(models.Model):
    """A phone export uploaded for import: kept (hashed) from the moment it arrives, previewed, then
    imported for the numbers and kinds the person picks."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_imports"
    )
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="phone_imports")
    original_name = models.CharField(max_length=255)
    storage_name = models.CharField(max_length=255)
    storage_version = models.CharField(max_length=200, blank=True, default="")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    format = models.CharField(max_length=20)
    summary = models.JSONField(default=dict)
    result = models.JSONField(default=dict, blank=True)
    evidence = models.ForeignKey(
        EvidenceFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    # A large import runs in the background (evidence/imports.py): its state, how far it got (a
    # percentage, and in `result` the counts and the entries read so far, so a resumed run carries
    # on where the last committed batch ended), why it failed, and what it was asked (`options`).
    # "" for an import run at once in its request (every import before background imports existed).
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, blank=True, default="", db_default=""
    )
    progress = models.PositiveSmallIntegerField(default=0, db_default=0)
    error = models.TextField(blank=True, default="", db_default="")
    options = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched by every committed batch; a running import whose heartbeat stops was interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.format})"


class ResumableUpload(models.Model):
    """A tus upload in progress: the bytes so far sit in a private spool file until the last one
    arrives; then the whole file goes through the same evidence_store as any upload."""

    id = models.UUIDField(primary_key=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    evidence = models.ForeignKey(
        EvidenceFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # tus expiration: pushed back by every PATCH; `manage.py cleanup_uploads` removes expired uploads.
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Who is writing the spool now: a PATCH claims the upload with one conditional UPDATE (so two
    # processes or instances never write it at once) and renews the claim while bytes arrive; a
    # claim left by a killed process lapses at `claimed_until`.
    claim = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.filename} {self.offset}/{self.length}"


class TextStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be read")
    DONE = "done", _("Read")
    FAILED = "failed", _("Could not be read")


class RecognizedText(models.Model):
    """Text read from an image by OCR (evidence/recognition.py): derived data, never evidence. It
    names the exact bytes it was read from (`sha256`) and the engine, and can be read again
    (`manage.py recognize_text --redo`); every result is an audit link."""

    evidence = models.OneToOneField(EvidenceFile, on_delete=models.CASCADE, related_name="recognized_text")
    sha256 = models.CharField(max_length=64)
    engine = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=TextStatus.choices, default=TextStatus.PENDING)
    text = models.TextField(blank=True)
    # One entry per line, top to bottom: {"text", "box": [x0, y0, x1, y1], "score", "color"}.
    lines = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # What the person logged from it (evidence/proposals.py): {proposal key: incident id}, so the
    # same proposal is never logged twice.
    logged = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When it was last queued to be read, and how often the sweep queued it again after a worker
    # stopped while reading it (evidence/recognition.py).
    queued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        verbose_name = _("recognized text")
        verbose_name_plural = _("recognized texts")

    def __str__(self) -> str:
        return f"{self.evidence_id}: {self.status}"


class CarrierMapping(models.Model):
    """Which column of a carrier's call-detail spreadsheet holds what, as the person mapped it once:
    remembered per owner and header row (its signature), so the next month's file imports at once."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=64)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "signature"], name="carrier_mapping_owner_signature")
        ]

    def __str__(self) -> str:
        return ", ".join(f"{k} → {v}" for k, v in self.mapping.items())


class ShareRole(models.TextChoices):
    READ = "read", _("Read only")
    ASSIST = "assist", _("Assist")


class CaseShare(models.Model):
    """A case shared with a helper (a lawyer, a legal-aid worker, a relative): made by the owner as
    an invitation holding a one-time code (only its SHA-256 is kept), accepted by the helper's
    account, ended by expiry, revocation or the owner's account going."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="shares")
    helper = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="case_shares"
    )
    role = models.CharField(max_length=10, choices=ShareRole.choices)
    note = models.CharField(max_length=200, blank=True, default="")
    code_digest = models.CharField(max_length=64, unique=True)
    code_prefix = models.CharField(max_length=8, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The owner agreed to name this helper as 代理人 on letters (with their contact).
    agent = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["helper", "case"], name="caseshare_helper_case")]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.role}:{self.code_prefix}"

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active" if self.accepted_at else "pending"
