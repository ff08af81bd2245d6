"""Reply deadlines of complaints sent, read from deadlines.toml (COMPLAINT_DEADLINES_FILE overrides the
path). The file is re-read when it changes, like the rule packs: a new number changes every countdown
without a restart or a code change."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .letters import addressee_kind

DEADLINES_FILE = Path(__file__).resolve().parent / "deadlines.toml"
LANGUAGES = ("zh-hans", "en")


@dataclass(frozen=True)
class Option:
    code: str
    days: int
    label: dict[str, str]


@dataclass(frozen=True)
class Deadline:
    """The deadlines that apply to one addressee: the options a person may choose, whether a rule
    sets them (then `source` says which, with its confidence mark), and when to remind."""

    options: tuple[Option, ...]
    statutory: bool
    source: dict[str, str] | None
    remind_before_days: int

    def option(self, code: str) -> Option:
        """The chosen option; an unknown code (the file changed since) falls back to the first."""
        return next((o for o in self.options if o.code == code), self.options[0])

    def due(self, sent_on: date, code: str) -> date:
        return sent_on + timedelta(days=self.option(code).days)


def deadlines_path() -> Path:
    return Path(getattr(settings, "COMPLAINT_DEADLINES_FILE", "") or DEADLINES_FILE)


_cache: dict[tuple[str, float], dict] = {}


def _load() -> dict:
    path = deadlines_path()
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError as exc:
        raise ImproperlyConfigured(f"complaint deadlines file {path}: {exc}") from None
    if key not in _cache:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ImproperlyConfigured(f"{path.name}: not valid TOML ({exc})") from None
        _cache.clear()
        _cache[key] = _parse(data, path.name)
    return _cache[key]


def _bilingual(value, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or any(not isinstance(value.get(lang), str) for lang in LANGUAGES):
        raise ImproperlyConfigured(f"{where}: needs text in each language ({', '.join(LANGUAGES)})")
    return {lang: value[lang] for lang in LANGUAGES}


def _parse(data: dict, name: str) -> dict:
    remind = data.get("remind_before_days", 3)
    if not isinstance(remind, int) or remind < 0:
        raise ImproperlyConfigured(f"{name}: remind_before_days is a whole number of days >= 0")
    sources = {}
    for source_id, raw in (data.get("sources") or {}).items():
        if raw.get("mark") not in ("V", "S"):
            raise ImproperlyConfigured(f"{name}: source {source_id}: mark is V or S")
        sources[source_id] = {**_bilingual(raw, f"{name}: source {source_id}"), "mark": raw["mark"]}
    deadlines = {}
    for key, raw in (data.get("deadlines") or {}).items():
        where = f"{name}: deadlines.{key}"
        options = []
        for index, option in enumerate(raw.get("options") or []):
            days = option.get("days")
            if not isinstance(option.get("code"), str) or not isinstance(days, int) or days < 1:
                raise ImproperlyConfigured(f"{where}.options[{index}]: needs a code and days >= 1")
            options.append(Option(option["code"], days, _bilingual(option.get("label"), f"{where}.label")))
        if not options:
            raise ImproperlyConfigured(f"{where}: needs at least one option")
        source_id = raw.get("source") or ""
        if source_id and source_id not in sources:
            raise ImproperlyConfigured(f"{where}: unknown source {source_id}")
        statutory = bool(raw.get("statutory", False))
        if statutory and not source_id:
            raise ImproperlyConfigured(f"{where}: a statutory deadline cites its source")
        deadlines[key] = Deadline(
            options=tuple(options),
            statutory=statutory,
            source=sources.get(source_id),
            remind_before_days=int(raw.get("remind_before_days", remind)),
        )
    if "other" not in deadlines:
        raise ImproperlyConfigured(f"{name}: needs [deadlines.other], the fallback")
    return deadlines


def deadline_for(addressee: str) -> Deadline:
    """The deadline rules of an addressee code: its own entry, else its kind's, else "other"."""
    deadlines = _load()
    return deadlines.get(addressee) or deadlines.get(addressee_kind(addressee)) or deadlines["other"]
