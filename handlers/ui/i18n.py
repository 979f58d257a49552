"""Which language a text is built in, and the Korean catalog (gettext, through Babel).

English is the contract: every English text is its own msgid, written in place where
the builder puts it, so an English reader gets exactly the text the tests assert.
Korean lives in `handlers/locale/ko/LC_MESSAGES/imagerepo.po`; the catalog is compiled
from the `.po` when this module is first imported (Babel's own compiler, in memory), so
a fresh clone, `make run` and `make test` never run on a stale `.mo`.
tests/handlers/test_catalog.py fails the build on a missing, fuzzy, obsolete or
placeholder-mismatched entry and on a `.pot` that no longer matches the code.

Language per request: a contextvar. The listener sets it from the person's Slack
locale (`users.info` with `include_locale=true`, cached in handlers.actors) before it
builds what only that person sees; channel messages are built under the project's
language (`using(project.language)`). Asyncio copies contextvars into each task, so
two people answered at once never see each other's language.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

DOMAIN = "imagerepo"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
ENGLISH = "en"
KOREAN = "ko"
LANGUAGES = (ENGLISH, KOREAN)

_language: ContextVar[str] = ContextVar("imagerepo_language", default=ENGLISH)
_time_zone: ContextVar[str] = ContextVar("imagerepo_time_zone", default="UTC")


def language_of(slack_locale: str | None) -> str:
    """Slack's IETF tag (`ko-KR`, `en-US`, ...) -> the language we answer in: `ko-*` gets
    Korean, everything else (including no locale at all) English."""
    tag = (slack_locale or "").strip().lower()
    return KOREAN if tag == KOREAN or tag.startswith(KOREAN + "-") else ENGLISH


def set_language(language: str, time_zone: str | None = None) -> None:
    """This request's language (and the person's time zone, when Slack gave one)."""
    _language.set(language if language in LANGUAGES else ENGLISH)
    if time_zone:
        _time_zone.set(time_zone)


def current_language() -> str:
    return _language.get()


@contextmanager
def using(language: str) -> Iterator[None]:
    """Build texts in `language` (a project's, for a channel message), then go back."""
    token = _language.set(language if language in LANGUAGES else ENGLISH)
    try:
        yield
    finally:
        _language.reset(token)


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language` (English: the msgids themselves)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == ENGLISH or not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy entry is not a translation
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def warm_catalogs() -> None:
    """Compile every catalog now (at start-up), so no request pays for it."""
    for language in LANGUAGES:
        _catalog(language)


def _(message: str) -> str:
    """`message` (an English msgid, written in place) in this request's language."""
    language = _language.get()
    if language == ENGLISH:
        return message
    return _catalog(language).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The plural form of this request's language for `count` (Korean has one form)."""
    language = _language.get()
    if language == ENGLISH:
        return singular if count == 1 else plural
    return _catalog(language).ngettext(singular, plural, count)


def counted(singular: str, plural: str, count: int, *, grouped: bool = True) -> str:
    """ "1 image repository" / "2 image repositories" (`{count}` in both msgids), the
    count written as the language writes numbers (English: `1,234`, the contract)."""
    if _language.get() == ENGLISH:
        shown = f"{count:,}" if grouped else str(count)
    else:
        shown = format_decimal(count, locale=_language.get())
    return ngettext(singular, plural, count).format(count=shown)


def N_(message: str) -> str:
    """Marks a message for extraction, translated later where it is shown (`_`)."""
    return message


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")

# Use-case sentences built with values (bot/ and storage/ write them in English, the CLI's
# and the English contract's words): each template is a msgid; a sentence it matches is
# said with the translated template, the values (a count, a name the user typed) as they
# were. A template's `{name}` matches anything but a line break.
TEMPLATES = (
    N_("At most {count} characters."),
    N_("No project named {name} in this workspace."),
    N_("A project named {name} exists already in another channel."),
    N_("{namespace} is granted to that project already."),
    N_("Enter the {kind} API token."),
)


@cache
def _template_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template as a regex with one named group per placeholder."""
    patterns = []
    for template in TEMPLATES:
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
            for index, part in enumerate(parts)
        )
        patterns.append((re.compile(regex), template))
    return tuple(patterns)


def _sentence(sentence: str) -> str:
    """One sentence in this request's language: its catalog entry, else the template it
    matches filled with its own values, else as written."""
    said = _(sentence)
    if said != sentence:
        return said
    for pattern, template in _template_patterns():
        match = pattern.fullmatch(sentence)
        if match is not None:
            return _(template).format(**match.groupdict())
    return sentence


def translate(message: str) -> str:
    """A message a use case returned: its Korean text when the catalog has one (a
    constant the use case marked), else sentence by sentence (a refusal is two marked
    sentences), each left as written when the catalog lacks it (it may carry a
    server's own words). English: unchanged."""
    if _language.get() == ENGLISH:
        return message
    whole = _(message)
    if whole != message:
        return whole
    return " ".join(_sentence(sentence) for sentence in _SENTENCE_END.split(message))


def number(value: int) -> str:
    """A count as this language writes it (English: unchanged `str`, the contract)."""
    if _language.get() == ENGLISH:
        return str(value)
    return format_decimal(value, locale=_language.get())


def local_time(moment: datetime) -> str:
    """A moment in the person's time zone (Slack's `tz`), in their language's medium form."""
    try:
        zone = ZoneInfo(_time_zone.get())
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return format_datetime(moment, "yyyy-MM-dd HH:mm zzz", tzinfo=zone, locale=_language.get())
