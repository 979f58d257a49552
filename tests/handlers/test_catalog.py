"""The Korean catalog is complete and current, and its check catches what it must."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from handlers.ui import i18n
from tests.support import catalog


def test_korean_catalog_is_complete_and_current() -> None:
    """Every English text the code marks has a Korean entry with the same placeholders,
    none fuzzy or obsolete, and the .pot matches the code (else: make messages)."""
    assert catalog.problems() == []


def _copy_without(tmp_path: Path, drop: str) -> Path:
    copy = tmp_path / "imagerepo.po"
    shutil.copy(catalog.KO_PO, copy)
    with copy.open("rb") as source:
        po = read_po(source, locale="ko")
    assert drop in po
    po.delete(drop)
    with copy.open("wb") as sink:
        write_po(sink, po)
    return copy


def test_the_check_fails_on_a_missing_korean_entry(tmp_path: Path) -> None:
    copy = _copy_without(tmp_path, "Connection Test")
    assert catalog.problems(po_path=copy) == ["missing Korean entry: 'Connection Test'"]


def test_the_check_fails_on_a_fuzzy_entry_and_on_a_placeholder_mismatch(tmp_path: Path) -> None:
    copy = tmp_path / "imagerepo.po"
    shutil.copy(catalog.KO_PO, copy)
    with copy.open("rb") as source:
        po = read_po(source, locale="ko")
    po["Save"].flags.add("fuzzy")
    po["<@{user}> was an admin already."].string = "<@{name}> 님은 이미 관리자입니다."
    with copy.open("wb") as sink:
        write_po(sink, po)
    found = catalog.problems(po_path=copy)
    assert "fuzzy Korean entry: 'Save'" in found
    assert any(
        p.startswith("placeholders differ in '<@{user}> was an admin already.'") for p in found
    )


def test_the_check_fails_when_the_pot_is_stale(tmp_path: Path) -> None:
    pot = tmp_path / "imagerepo.pot"
    with catalog.POT.open("rb") as source:
        template = read_po(source)
    template.delete("Cancel")
    with pot.open("wb") as sink:
        write_po(sink, template)
    assert "not in the .pot (run make messages): 'Cancel'" in catalog.problems(pot_path=pot)


def test_korean_texts_and_counts_come_from_the_compiled_catalog() -> None:
    """The .po is compiled at import (no stale .mo on a fresh clone); counts are written
    the Korean way (one plural form, grouped digits); English stays the contract."""
    with i18n.using(i18n.KOREAN):
        assert i18n._("Connection Test") == "연결 테스트"
        assert i18n.counted("{count} image repository", "{count} image repositories", 1234) == (
            "이미지 저장소 1,234개"
        )
    assert i18n.counted("{count} image repository", "{count} image repositories", 1) == (
        "1 image repository"
    )
