"""One label per form field: every modal builder and every field error text uses these.

Keys are the use cases' field names (bot.usecases.forms.Field, bot.usecases.tools.ToolField),
the same keys handlers.ids maps to block ids.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import PlainTextObject

from bot.slacktext import escape
from bot.usecases.forms import Field
from bot.usecases.tools import ToolField
from handlers.ui.common import plain

FIELD_LABELS: dict[str, str] = {
    Field.REGISTRY_TYPE: "Repository type",
    Field.CREATION: "Repository creation",
    Field.TOOL: "Registered tool",
    Field.REGISTRY_URL: "Registry URL",
    Field.REPOSITORY: "Repository",
    Field.USERNAME: "Username",
    Field.SECRET: "Password or access token",
    Field.CA_BUNDLE: "CA bundle (PEM)",
    ToolField.NAME: "Name",
    ToolField.URL: "Harbor URL",
}
HARBOR_PROJECT = "Harbor project"
OPTIONS = "Options"


def label(field: str) -> PlainTextObject:
    """The input block label of a field."""
    return plain(FIELD_LABELS[field])


def errors_text(errors: Mapping[str, str]) -> str:
    """Field errors as a bulleted list, each under its field's label."""
    return "\n".join(f"• *{FIELD_LABELS.get(k, k)}*: {escape(v)}" for k, v in errors.items())
