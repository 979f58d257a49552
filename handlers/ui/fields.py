"""One label per form field: every modal builder and every field error text uses these;
the inputs that are built alike in several modals (a secret, a CA bundle).

Keys are the use cases' field names (bot.usecases.forms.Field, bot.usecases.tools.ToolField),
the same keys handlers.ids maps to block ids.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject

from bot.usecases.forms import MAX_SECRET, Field
from bot.usecases.tools import ToolField
from handlers.ui.common import HINT_MAX, SECRET_LIMIT_HINT, plain
from handlers.ui.text import mrkdwn

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


def secret_input(
    block_id: str,
    action_id: str,
    field_label: PlainTextObject,
    *,
    advice: str = "",
    optional: bool | None = None,
) -> InputBlock:
    """A password or token input (never pre-filled): as long as Slack lets one be typed, its
    hint saying so after `advice`."""
    return InputBlock(
        block_id=block_id,
        label=field_label,
        optional=optional,
        hint=plain(f"{advice} {SECRET_LIMIT_HINT}" if advice else SECRET_LIMIT_HINT, HINT_MAX),
        element=PlainTextInputElement(action_id=action_id, max_length=MAX_SECRET),
    )


def ca_bundle_input(block_id: str, action_id: str, hint: str) -> InputBlock:
    """The optional CA bundle (PEM) input of the add modal and the tool form."""
    return InputBlock(
        block_id=block_id,
        label=label(Field.CA_BUNDLE),
        optional=True,
        hint=plain(hint, 150),
        element=PlainTextInputElement(action_id=action_id, multiline=True),
    )


def errors_text(errors: Mapping[str, str]) -> str:
    """Field errors as a bulleted list, each under its field's label."""
    return "\n".join(f"• *{FIELD_LABELS.get(k, k)}*: {mrkdwn(v)}" for k, v in errors.items())
