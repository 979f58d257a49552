"""Filling the add modal the way a user does, by its field labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.e2e.flow import texts
from tests.support.slack_requests import (
    checkboxes_value,
    external_select_value,
    find_input,
    plain_text_value,
    radio_buttons_value,
    static_select_value,
    values_by_label,
)

JsonDict = dict[str, Any]


def add_values(
    view: JsonDict,
    *,
    url: str | None = None,
    repository: str | None = None,
    username: str | None = None,
    password: str | None = None,
    options: Iterable[str] = (),
    tool: str | None = None,
    creation: str | None = None,
    harbor_project: str | None = None,
) -> dict[str, dict[str, JsonDict]]:
    labels = {b["label"]["text"] for b in view["blocks"] if b.get("type") == "input"}
    entries: dict[str, JsonDict] = {}
    type_ref = find_input(view, "Repository type")
    entries["Repository type"] = static_select_value(type_ref.element["initial_option"]["value"])
    if "Registry URL" in labels:
        entries["Registry URL"] = plain_text_value(url)
    if "Registered tool" in labels:
        entries["Registered tool"] = static_select_value(tool)
    if creation is not None:
        entries["Repository creation"] = radio_buttons_value(creation)
    if harbor_project is not None:
        entries["Harbor project"] = external_select_value(harbor_project)
    entries["Repository"] = plain_text_value(repository)
    entries["Username"] = plain_text_value(username)
    entries["Password or access token"] = plain_text_value(password)
    if "Options" in labels:
        entries["Options"] = checkboxes_value(*options)
    return values_by_label(view, entries)


def account_values(view: JsonDict, username: str | None, password: str | None) -> JsonDict:
    return values_by_label(
        view,
        {
            "Username": plain_text_value(username),
            "Password or access token": plain_text_value(password),
        },
    )


def tool_row(blocks: list[JsonDict], name: str) -> JsonDict:
    """The row of tool `name` in the `/imagerepo tools` listing (a section with a menu),
    found by its name: other tests of the module may have registered tools before it."""
    rows = [b for b in blocks if b["block_id"].startswith("tool_") and b.get("accessory")]
    found = [b for b in rows if f"*{name}*" in texts([b])]
    assert len(found) == 1, f"{name}: {[texts([b]) for b in rows]}"
    return found[0]


def option_value(element: JsonDict, name: str) -> str:
    """The value of the select option whose text starts with `name` (a tool's name)."""
    values = [o["value"] for o in element["options"] if o["text"]["text"].split(" (")[0] == name]
    assert len(values) == 1, f"{name}: {[o['text']['text'] for o in element['options']]}"
    return str(values[0])
