"""Filling the add modal the way a user does, by its field labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
