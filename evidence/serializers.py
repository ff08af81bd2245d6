"""API shapes of api-v1.md. Serializers validate and present; services do the writing."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from core.dates import SupportedDateTimeField
from stamps.selectors import evidence_stamp

from .merging import source_list
from .models import Case, Contacted, Creditor, EvidenceFile, Flag, Incident, IncidentKind, TextStatus
from .recognition import recognized_row, text_status
from .shares import helper_name


class CaseSerializer(serializers.ModelSerializer):
    creditor = serializers.ChoiceField(choices=Creditor.choices)
    rule_pack = serializers.CharField(required=False, max_length=20)

    class Meta:
        model = Case
        fields = [
            "id",
            "title",
            "creditor",
            "lender_name",
            "account_hint",
            "collectors",
            "notes",
            "rule_pack",
            "violation_summary",
            # The day the debt began (third wave): imports leave out entries before it.
            "period_start",
            "created_at",
        ]
        read_only_fields = ["id", "violation_summary", "created_at"]


class EvidenceSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", read_only=True)
    download_url = serializers.SerializerMethodField()
    # {"time", "tsa"} once a trusted time-stamp authority has stamped the file's hash, else null.
    timestamp = serializers.SerializerMethodField()
    # The text read from an image (OCR): "none" | "pending" | "done" | "failed", and the text or null.
    text_status = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceFile
        fields = [
            "id",
            "incident",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "received_at",
            "metadata",
            "provenance",
            "download_url",
            "timestamp",
            "text_status",
            "text",
        ]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        return reverse("api_evidence_download", args=[obj.pk])

    def get_timestamp(self, obj) -> dict | None:
        return evidence_stamp(obj.pk).as_api()

    def get_text_status(self, obj) -> str:
        return text_status(obj)

    def get_text(self, obj) -> str | None:
        row = recognized_row(obj)
        return row.text if row is not None and row.status == TextStatus.DONE else None


class IncidentSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    kind = serializers.ChoiceField(choices=IncidentKind.choices)
    contacted = serializers.ListField(
        child=serializers.ChoiceField(choices=Contacted.choices), required=False
    )
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Flag.choices), required=False)
    # Verbatim quotes: [{"at": seconds into the recording or null, "text": "…"}]; checked by the service.
    quotes = serializers.JSONField(required=False)
    evidence = EvidenceSerializer(many=True, read_only=True)
    violations = serializers.SerializerMethodField()
    # Required when logging: only a file whose time cannot be read has no time ("unknown"), and a
    # time once set cannot be taken back to unknown.
    occurred_at = SupportedDateTimeField()
    time_status = serializers.CharField(read_only=True)
    sources = serializers.SerializerMethodField()
    # "owner", or the display name of the helper who entered it on a shared case.
    entered_by = serializers.SerializerMethodField()
    # What other sources say about fields the person typed: [{"field", "value", "source"}].
    conflicts = serializers.SerializerMethodField()
    # Where a visit happened: {"lat", "lon", "accuracy_m"} or null; checked by the service.
    location = serializers.JSONField(required=False, allow_null=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            # The evidence number (E-0007): given once when the incident is created, never changed.
            "ref",
            "case",
            "kind",
            "occurred_at",
            "time_status",
            "duration_seconds",
            "answered",
            "counterpart_number",
            "counterpart_name",
            "agency",
            "description",
            "quotes",
            "contacted",
            "flags",
            "visitors",
            "source",
            "logged_at",
            "amended_at",
            "evidence",
            "violations",
            "sources",
            "entered_by",
            "conflicts",
            "place",
            "location",
        ]
        read_only_fields = [
            "id",
            "ref",
            "source",
            "logged_at",
            "amended_at",
            "evidence",
            "violations",
            "sources",
        ]

    def validate_occurred_at(self, value):
        # A time sent without an offset is read in the user's own time zone (the one active now).
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value

    def get_sources(self, obj) -> list[dict]:
        return source_list(obj)

    def get_conflicts(self, obj) -> list[dict]:
        return list(obj.conflicts or [])

    def get_entered_by(self, obj) -> str:
        if obj.entered_by_id is None or obj.entered_by_id == obj.case.owner_id:
            return "owner"
        return helper_name(obj.entered_by)

    def get_violations(self, obj) -> list[dict]:
        finder = self.context.get("violations")
        return finder(obj) if finder else []


class IncidentUpdateSerializer(IncidentSerializer):
    case = serializers.IntegerField(source="case_id", read_only=True)
