"""Small presentation filters for evidence pages."""

from django import template

register = template.Library()


@register.filter
def quote_offset(seconds) -> str:
    """133 → "02:13": where a quote is in its recording."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
