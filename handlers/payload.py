"""Reading what Slack sent: ids, a view's state, who and where.

A forged payload may carry anything: every reader answers "" / None / {} rather than raise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def row_id(text: str) -> int | None:
    """A database id (or page number) from a value Slack sent back; None when it is not one.

    Values come back from Slack as typed by the bot, but a forged payload may carry
    anything: non-ASCII digits int() refuses, or numbers too big for the database.
    """
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def page_arg(args: Sequence[str]) -> int:
    """The page number typed after a subcommand (1 when none or not a number)."""
    return (row_id(args[0]) if args else None) or 1


def state_values(view: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    state = view.get("state") or {}
    values = state.get("values") or {}
    return values if isinstance(values, Mapping) else {}


def _entry(view: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = state_values(view).get(block_id) or {}
    entry = block.get(action_id) or {}
    return entry if isinstance(entry, Mapping) else {}


def text_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str:
    value = _entry(view, block_id, action_id).get("value")
    return str(value) if value is not None else ""


def selected_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    chosen = _entry(view, block_id, action_id).get("selected_option")
    if isinstance(chosen, Mapping) and chosen.get("value") is not None:
        return str(chosen["value"])
    return None


def checked_values(view: Mapping[str, Any], block_id: str, action_id: str) -> set[str]:
    chosen = _entry(view, block_id, action_id).get("selected_options") or []
    return {str(o.get("value")) for o in chosen if isinstance(o, Mapping)}


def block_ids(view: Mapping[str, Any]) -> list[str]:
    return [str(b.get("block_id")) for b in view.get("blocks") or [] if isinstance(b, Mapping)]


def input_block_ids(view: Mapping[str, Any]) -> list[str]:
    return [
        str(b.get("block_id"))
        for b in view.get("blocks") or []
        if isinstance(b, Mapping) and b.get("type") == "input"
    ]


def block_text(view: Mapping[str, Any] | None, block_id: str) -> str | None:
    """The mrkdwn text of a section/context block of a view (to carry a result over)."""
    for block in (view or {}).get("blocks") or []:
        if not isinstance(block, Mapping) or block.get("block_id") != block_id:
            continue
        if isinstance(block.get("text"), Mapping):
            return str(block["text"].get("text", "")) or None
        for element in block.get("elements") or []:
            if isinstance(element, Mapping) and element.get("text"):
                return str(element["text"])
    return None


def team_of(body: Mapping[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, Mapping) and team.get("id"):
        return str(team["id"])
    if body.get("team_id"):
        return str(body["team_id"])
    user = body.get("user")
    if isinstance(user, Mapping) and user.get("team_id"):
        return str(user["team_id"])
    return ""


def user_of(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id", ""))
    return str(body.get("user_id") or user or "")


def channel_of(body: Mapping[str, Any]) -> str | None:
    channel = body.get("channel")
    if isinstance(channel, Mapping) and channel.get("id"):
        return str(channel["id"])
    container = body.get("container")
    if isinstance(container, Mapping) and container.get("channel_id"):
        return str(container["channel_id"])
    return None


def view_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The view the payload came from ({} for a message)."""
    view = body.get("view")
    return dict(view) if isinstance(view, Mapping) else {}


def first_action(body: Mapping[str, Any]) -> dict[str, Any]:
    """The block action that was clicked ({} when absent or malformed)."""
    actions = body.get("actions") or [{}]
    first = actions[0] if isinstance(actions, list) and actions else {}
    return dict(first) if isinstance(first, Mapping) else {}


def action_value(body: Mapping[str, Any]) -> str:
    """The clicked button's value ("" when absent)."""
    return str(first_action(body).get("value") or "")


def chosen_value(body: Mapping[str, Any]) -> str:
    """The value of the clicked select's chosen option ("" when absent or malformed)."""
    chosen = first_action(body).get("selected_option")
    return str(chosen.get("value") or "") if isinstance(chosen, Mapping) else ""


def action_row_id(body: Mapping[str, Any]) -> int | None:
    """The database id a button carries as its value (None when it is not one)."""
    return row_id(action_value(body))
