"""The Korean catalog's check (`make test` runs it through tests/handlers/test_catalog.py).

A build fails when a Korean entry is missing, empty, fuzzy or obsolete, when its
placeholders (`{name}`), Slack emoji codes (`:warning:`) or command spans
(`/imagerepo ...`) differ from the English msgid's, or when the `.pot` no longer holds
exactly the msgids the code has (regenerate both with `make messages`).

The extraction is pybabel's own (`babel.messages.extract`), with the same mapping
(babel.cfg, read from the file) and keywords as `make messages`, so the check and the tool agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "handlers" / "locale" / "imagerepo.pot"
KO_PO = ROOT / "handlers" / "locale" / "ko" / "LC_MESSAGES" / "imagerepo.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "counted": (1, 2)}
# The same files as `make messages` (babel.cfg): the handlers, the use cases, and the
# type table's texts (registry/kinds.py).
with (ROOT / "babel.cfg").open(encoding="utf-8") as _cfg:
    METHOD_MAP, _OPTIONS = parse_mapping_cfg(_cfg)

_PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
_EMOJI = re.compile(r":[a-z0-9_+-]+:")
_COMMAND = re.compile(r"/imagerepo[a-z -]*|/invite @imagerepo")

MessageId = str | tuple[str, ...]


def extracted(root: Path = ROOT) -> set[MessageId]:
    """Every msgid the code marks (`_`, `N_`, `ngettext`, `counted`), as pybabel sees it."""
    found: set[MessageId] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), method_map=METHOD_MAP, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def _ids(catalog: Catalog) -> set[MessageId]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def _marks(text: str) -> tuple[list[str], list[str], list[str]]:
    return (
        sorted(set(_PLACEHOLDER.findall(text))),
        sorted(_EMOJI.findall(text)),
        sorted(c.strip() for c in _COMMAND.findall(text)),
    )


def _english(message_id: MessageId) -> Iterable[str]:
    return (message_id,) if isinstance(message_id, str) else message_id


def problems(pot_path: Path = POT, po_path: Path = KO_PO, root: Path = ROOT) -> list[str]:
    """What is wrong with the Korean catalog; empty when it is complete and current."""
    out: list[str] = []
    pot = load(pot_path)
    code_ids, pot_ids = extracted(root), _ids(pot)
    out += [
        f"not in the .pot (run make messages): {m!r}" for m in sorted(code_ids - pot_ids, key=str)
    ]
    out += [
        f"stale in the .pot (run make messages): {m!r}" for m in sorted(pot_ids - code_ids, key=str)
    ]
    po = load(po_path, locale="ko")
    out += [f"obsolete Korean entry: {m.id!r}" for m in po.obsolete.values()]
    po_ids = _ids(po)
    out += [f"Korean entry for no msgid: {m!r}" for m in sorted(po_ids - pot_ids, key=str)]
    for message_id in sorted(pot_ids, key=str):
        message = po.get(message_id if isinstance(message_id, str) else message_id[0])
        if message is None:
            out.append(f"missing Korean entry: {message_id!r}")
            continue
        if message.fuzzy:
            out.append(f"fuzzy Korean entry: {message_id!r}")
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if not strings or any(not s for s in strings):
            out.append(f"untranslated Korean entry: {message_id!r}")
            continue
        wanted = _marks(next(iter(_english(message_id))))
        for korean in strings:
            if _marks(korean) != wanted:
                out.append(
                    f"placeholders differ in {message_id!r}: {_marks(korean)} against {wanted}"
                )
    return out
