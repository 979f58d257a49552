"""Use cases' field errors as Slack's `response_action: errors` wants them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.payload import input_block_ids
from handlers.ui.i18n import translate
from handlers.ui.text import plain_text


def field_errors(
    errors: Mapping[str, str], mapping: Mapping[str, str], view: Mapping[str, Any], fallback: str
) -> dict[str, str]:
    """Use-case field errors -> {block_id: message} for blocks present in the view.

    Slack refuses errors for block ids the view does not have; those messages
    go under `fallback` (an input block that is always there).
    """
    present = set(input_block_ids(view))
    out: dict[str, str] = {}
    for field, said in errors.items():
        message = translate(said)  # a use case's marked message, in the person's language
        block_id = mapping.get(field, fallback)
        if block_id not in present:
            block_id = fallback if fallback in present else next(iter(present), fallback)
        out[block_id] = (out[block_id] + " " + message) if block_id in out else message
    # Slack shows a field error as typed, up to 2,000 characters (cut with "…").
    return {k: plain_text(v, 2000) for k, v in out.items()}
