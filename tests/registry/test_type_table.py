"""The one table of repository types and tool kinds (`registry.kinds.TYPES`) is what the
product says everywhere: the README's type table, `check --type`, the service's drivers
and tool checks, the tool form's kinds (issue 20 item 1)."""

from __future__ import annotations

import argparse
from pathlib import Path

from registry import (
    ALL_TYPES,
    TOOL_TYPES,
    TYPES,
    RegistryService,
    TypeInfo,
    tool_kinds_text,
)
from registry.drivers import Driver, ToolCheckBase
from registry.service import load_class
from server.check_command import add_arguments

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
