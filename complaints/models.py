"""A complaint dossier: what was issued, to whom, sealed by the hash of its manifest."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from evidence.models import Case


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
    reissue_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

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

    objects = DossierQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"CE-{self.created_at:%Y%m%d}-{self.pk:06d}" if self.pk and self.created_at else "CE-new"

    @property
    def is_issued(self) -> bool:
        return self.status == DossierStatus.READY
