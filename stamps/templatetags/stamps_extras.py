"""The trusted timestamp of an evidence file, for pages: `{% evidence_timestamp file as stamp %}`
gives its state ("stamped", "pending" or "off"), the stamped time in the page's time zone, the
zone's name (北京时间 for China) and the TSA's host."""

from urllib.parse import urlsplit

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from stamps.selectors import evidence_stamp
from stamps.tsa import configured

register = template.Library()

CHINA_ZONES = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC")


@register.simple_tag
def evidence_timestamp(evidence) -> dict:
    stamp = evidence_stamp(evidence.pk)
    zone = timezone.get_current_timezone_name()
    return {
        "state": stamp.state,
        "time": timezone.localtime(stamp.time).strftime("%Y-%m-%d %H:%M:%S") if stamp.time else "",
        "zone": _("Beijing time") if zone in CHINA_ZONES else zone,
        "tsa": urlsplit(stamp.tsa).netloc or stamp.tsa,
        "url": stamp.tsa,
    }


@register.simple_tag
def timestamps_configured() -> bool:
    """Whether this server sends fingerprints to a time-stamp authority (the operator's TSA_URLS):
    when it does not, a page says so once, with how it is turned on, instead of on every file."""
    return configured()
