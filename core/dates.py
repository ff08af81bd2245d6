"""The range of dates the service accepts, checked in one place for every API field and form field.

A date such as 0001-01-01 or 9999-12-31 parses, but turning it into UTC for the database (or into
another offset) overflows Python's datetime and used to answer 500. Nothing a person logs here
happened before 1990 or after the end of next year, so anything outside that range is refused with a
message naming the range, before any conversion is tried.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

EARLIEST = date(1990, 1, 1)


def supported_range() -> tuple[date, date]:
    """(first, last) accepted day: 1990-01-01 to the end of next year."""
    return EARLIEST, date(timezone.localdate().year + 1, 12, 31)


def out_of_range_message() -> str:
    earliest, latest = supported_range()
    return _("Dates must be between %(earliest)s and %(latest)s.") % {
        "earliest": earliest.isoformat(),
        "latest": latest.isoformat(),
    }


def in_supported_range(value: date | datetime) -> bool:
    # The calendar day as written (in the value's own offset): converting first is what overflows.
    day = value.date() if isinstance(value, datetime) else value
    earliest, latest = supported_range()
    return earliest <= day <= latest


def validate_supported_date(value: date | datetime | None) -> None:
    """A validator for Django form fields and DRF serializer fields alike."""
    if value is not None and not in_supported_range(value):
        raise ValidationError(out_of_range_message(), code="out_of_range")


class SupportedDateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField within the supported range. A value that overflows while DRF converts it
    (0001-01-01 in local time, 9999-12-31T23:59-08:00) gets the same message instead of a 500."""

    def __init__(self, **kwargs):
        kwargs["validators"] = [*kwargs.get("validators", ()), validate_supported_date]
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except OverflowError:  # DRF's own check of the local time converts 0001-01-01 to UTC
            raise serializers.ValidationError(out_of_range_message(), code="out_of_range") from None
        except serializers.ValidationError as exc:
            if "overflow" in exc.get_codes():
                raise serializers.ValidationError(out_of_range_message(), code="out_of_range") from None
            raise


class SupportedDateField(serializers.DateField):
    def __init__(self, **kwargs):
        kwargs["validators"] = [*kwargs.get("validators", ()), validate_supported_date]
        super().__init__(**kwargs)
