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
from handlers.ui.common import HINT_MAX, plain, secret_limit_hint
from handlers.ui.i18n import N_, _, translate
from handlers.ui.text import mrkdwn

# English labels are the contract; Korean ones are their translations (`_()` where read).
FIELD_LABELS: dict[str, str] = {
    Field.REGISTRY_TYPE: N_("Repository type"),
    Field.CREATION: N_("Repository creation"),
    Field.TOOL: N_("Registered tool"),
    Field.REGISTRY_URL: N_("Registry URL"),
    Field.REPOSITORY: N_("Repository"),
    Field.USERNAME: N_("Username"),
    Field.SECRET: N_("Password or access token"),
    Field.CA_BUNDLE: N_("CA bundle (PEM)"),
    ToolField.NAME: N_("Name"),
}
OPTIONS = N_("Options")


def field_label(field: str) -> str:
    """A field's label in this request's language (the key itself for an unknown field)."""
    return _(FIELD_LABELS[field]) if field in FIELD_LABELS else field


def label(field: str) -> PlainTextObject:
    """The input block label of a field."""
    return plain(field_label(field))


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
        hint=plain(f"{advice} {secret_limit_hint()}" if advice else secret_limit_hint(), HINT_MAX),
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
    return "\n".join(f"• *{field_label(k)}*: {mrkdwn(translate(v))}" for k, v in errors.items())
