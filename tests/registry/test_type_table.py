"""The one table of repository types and tool kinds (`registry.kinds.TYPES`) is what the
product says everywhere: the README's type table, `check --type`, the service's drivers
and tool checks, the tool form's kinds (issue 20 item 1)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from registry import (
    ALL_TYPES,
    LEGACY_TOOL_KIND,
    TOOL_TYPES,
    TYPES,
    RegistryService,
    RegistryType,
    TypeInfo,
    tool_kinds_text,
    tool_type_of,
)
from registry.drivers import Driver, ToolCheckBase
from registry.service import load_class
from server.check_command import add_arguments
from storage.models import LEGACY_TOOL_TYPE

README = Path(__file__).resolve().parents[2] / "README.md"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _tool(info: TypeInfo) -> str:
    if info.tool is None:
        return "no"
    what = "an API token" if info.tool.token_only else "an account"
    return f"{'required' if info.needs_registered_tool else 'optional'} ({what})"


def _row(info: TypeInfo) -> str:
    url = f"`{info.default_url}`" if info.default_url else "the one you enter"
    if info.needs_registered_tool:
        url = "the registered tool's"
    return (
        f"| {info.label} | `{info.type.value}` | {url} | {_yes(info.can_create)} | "
        f"{_yes(info.can_delete_in_ir)} | {_tool(info)} |"
    )


def test_the_readme_type_table_is_the_table() -> None:
    """A type added, renamed or changed in the table without the README fails here."""
    expected = [
        "| type | `--type` | URL (filled in) | create new | delete in IR | registered tool |",
        "|---|---|---|---|---|---|",
        *(_row(info) for info in TYPES),
    ]
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected
    assert not lines[start + len(expected)].startswith("|"), "a row the table does not have"


def test_check_offers_every_type_of_the_table() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    action = next(a for a in parser._actions if a.dest == "type")
    assert list(action.choices or ()) == [t.value for t in ALL_TYPES]
    assert tuple(info.type for info in TYPES) == ALL_TYPES
    for info in TYPES:
        assert f"{info.type.value}: {info.label}" in str(action.help)


def test_every_row_names_a_driver_of_its_type_and_tool_kinds_a_tool_check() -> None:
    """The service builds its drivers from the table: each is of the row's type."""
    service = RegistryService()
    for info in TYPES:
        driver = service._drivers[info.type]
        assert type(driver) is load_class(info.driver, Driver)
        assert driver.type is info.type
        if info.tool is not None:
            assert issubclass(load_class(info.tool.check, ToolCheckBase), ToolCheckBase)
    assert set(TOOL_TYPES) == {i.type for i in TYPES if i.tool is not None}
    assert tool_kinds_text() == "Harbor, GitLab or Quay"


def test_a_tool_saved_without_a_kind_is_of_the_same_kind_everywhere() -> None:
    """storage cannot import the registry layer, so it states the legacy kind itself."""
    assert LEGACY_TOOL_KIND.value == LEGACY_TOOL_TYPE
    assert tool_type_of(None) is LEGACY_TOOL_KIND


def test_a_namespace_picker_has_a_driver_that_lists_namespaces() -> None:
    """The add modal offers a kind's picker only when its driver can fill it."""
    for info in TYPES:
        driver = load_class(info.driver, Driver)
        lists = driver.namespaces is not Driver.namespaces
        assert lists == (info.tool is not None and info.tool.namespace_picker is not None)


def test_a_type_that_requires_a_tool_says_how_to_choose_one() -> None:
    """The add modal reads these texts of the row (an empty msgid would translate to the
    catalog's header)."""
    for info in TYPES:
        if info.needs_registered_tool:
            assert info.tool is not None
            assert info.tool.choose and info.tool.none_registered
        elif info.tool is not None:
            assert info.tool.tool_hint


PRODUCT = ("bot", "handlers", "registry", "server", "storage")


def test_a_type_is_named_in_at_most_two_product_files_besides_its_driver() -> None:
    """Adding a type is a driver module plus a row (issue 20): the files that name a type
    outside `registry/<type>.py`, the table and the migrations stay few (upstream facts
    cited where they apply, e.g. a token header in the outbound rule)."""
    root = README.parent
    files = [
        p
        for top in PRODUCT
        for p in (root / top).rglob("*.py")
        if "migrations" not in p.parts and p != root / "registry" / "kinds.py"
    ]
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    for info in TYPES:
        if info.type is RegistryType.IMAGE_REGISTRY:
            continue  # "registry" is every module's word; its driver is registry/drivers.py
        word = re.compile(rf"\b{re.escape(info.type.value)}\b", re.IGNORECASE)
        driver = root / "registry" / f"{info.type.value}.py"
        naming = sorted(
            str(p.relative_to(root)) for p, t in texts.items() if p != driver and word.search(t)
        )
        assert len(naming) <= 2, (info.type.value, naming)
