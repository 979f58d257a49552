"""`/imagerepo tools`: the registered Harbor instances, and the form to register or edit one."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    InputBlock,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.usecases.forms import MAX_SECRET
from bot.usecases.permissions import REFUSE_TOOLS
from bot.usecases.tools import ToolField, ToolInfo
from handlers import ids, metadata
from handlers.ui.common import (
    HINT_MAX,
    SECRET_LIMIT_HINT,
    code,
    context,
    escape,
    md,
    plain,
    section,
)
from handlers.ui.fields import OPTIONS, label


def tools_blocks(tools: Sequence[ToolInfo], *, is_admin: bool) -> list[Block]:
    blocks: list[Block] = [
        section("tools_title", "*Registered tools (Harbor instances)*"),
    ]
    if not tools:
        blocks.append(context("tools_empty", "No Harbor instance is registered yet."))
    for tool in tools[:20]:
        account = f"account {escape(tool.username)}" if tool.username else "no account"
        tls = (
            "custom CA"
            if tool.has_ca_bundle
            else ("TLS verified" if tool.tls_verify else "TLS not verified")
        )
        text = (
            f"*{escape(tool.name)}*  ·  {code(tool.url)}\n"
            f"{account}  ·  {tls}  ·  used by {tool.repositories} repositories"
        )
        accessory = None
        if is_admin:
            accessory = OverflowMenuElement(
                action_id=ids.A_TOOL_MENU,
                options=[
                    Option(value=f"{ids.TOOL_MENU_TEST}:{tool.id}", text=plain("Connection Test")),
                    Option(value=f"{ids.TOOL_MENU_EDIT}:{tool.id}", text=plain("Edit")),
                    Option(value=f"{ids.TOOL_MENU_REMOVE}:{tool.id}", text=plain("Remove")),
                ],
            )
        blocks.append(SectionBlock(block_id=f"tool_{tool.id}", text=md(text), accessory=accessory))
    if is_admin:
        blocks.append(
            ActionsBlock(
                block_id="tools_actions",
                elements=[
                    ButtonElement(
                        text=plain("Register Harbor"),
                        action_id=ids.A_TOOL_REGISTER,
                        style="primary",
                    )
                ],
            )
        )
    else:
        blocks.append(context("tools_note", REFUSE_TOOLS))
    return blocks


def tool_metadata(tool_id: int | None) -> str:
    """Signed: which tool the form edits or removes (0: a new one)."""
    return metadata.seal("tool", {"tool_id": tool_id or 0})


def tool_of(text: str) -> int:
    """The tool id a tool modal was opened for: 0 for Register; ForgedMetadata when unsigned."""
    tool_id = metadata.unseal("tool", text).get("tool_id")
    if not isinstance(tool_id, int) or tool_id < 0:
        raise metadata.ForgedMetadata("not a tool id")
    return tool_id


def tool_modal(tool: ToolInfo | None, *, status: str | None = None) -> View:
    """Register (tool is None) or edit a tool; the secret is never pre-filled."""
    blocks: list[Block] = [
        section(
            "tool_intro",
            "A Harbor instance every project of this workspace can use. It is tested with its "
            "account before it is saved.",
        ),
        InputBlock(
            block_id=ids.B_TOOL_NAME,
            label=label(ToolField.NAME),
            element=PlainTextInputElement(
                action_id=ids.A_TOOL_NAME,
                initial_value=tool.name if tool else None,
                max_length=80,
            ),
        ),
        InputBlock(
            block_id=ids.B_TOOL_URL,
            label=label(ToolField.URL),
            element=PlainTextInputElement(
                action_id=ids.A_TOOL_URL,
                initial_value=tool.url if tool else None,
                placeholder=plain("https://harbor.example.com"),
                max_length=2048,
            ),
        ),
        *_tool_account_blocks(tool),
        _tool_options_block(tool),
    ]
    if status:
        blocks.append(section(ids.B_STATUS, status))
    return View(
        type="modal",
        callback_id=ids.VIEW_TOOL,
        title=plain("Edit Harbor" if tool else "Register Harbor", 24),
        submit=plain("Save", 24),
        close=plain("Cancel", 24),
        private_metadata=tool_metadata(tool.id if tool else None),
        blocks=blocks,
    )


def _tool_account_blocks(tool: ToolInfo | None) -> list[Block]:
    """Username, secret (kept when left empty on an edit) and CA bundle."""
    secret_hint = (
        "Leave empty to keep the saved one (same URL only)."
        if tool is not None
        else "An admin's password or a robot account's secret; stored encrypted."
    )
    return [
        InputBlock(
            block_id=ids.B_TOOL_USERNAME,
            label=label(ToolField.USERNAME),
            optional=True,
            hint=plain("An admin or a robot account (robot$...).", 150),
            element=PlainTextInputElement(
                action_id=ids.A_TOOL_USERNAME,
                initial_value=(tool.username or None) if tool else None,
                max_length=255,
            ),
        ),
        InputBlock(
            block_id=ids.B_TOOL_SECRET,
            label=label(ToolField.SECRET),
            optional=True,
            hint=plain(f"{secret_hint} {SECRET_LIMIT_HINT}", HINT_MAX),
            element=PlainTextInputElement(action_id=ids.A_TOOL_SECRET, max_length=MAX_SECRET),
        ),
        InputBlock(
            block_id=ids.B_TOOL_CA,
            label=label(ToolField.CA_BUNDLE),
            optional=True,
            hint=plain(
                "Leave empty to keep the saved one."
                if tool and tool.has_ca_bundle
                else "For an instance whose certificate a private CA signed.",
                150,
            ),
            element=PlainTextInputElement(action_id=ids.A_TOOL_CA, multiline=True),
        ),
    ]


def _tool_options_block(tool: ToolInfo | None) -> InputBlock:
    insecure = Option(value=ids.OPT_INSECURE, text=plain("Skip TLS certificate verification"))
    return InputBlock(
        block_id=ids.B_TOOL_OPTIONS,
        label=plain(OPTIONS),
        optional=True,
        element=CheckboxesElement(
            action_id=ids.A_TOOL_OPTIONS,
            options=[insecure],
            initial_options=[insecure] if tool is not None and not tool.tls_verify else None,
        ),
    )


def tool_remove_modal(tool: ToolInfo, *, status: str | None = None) -> View:
    text = f"Remove the registered tool *{escape(tool.name)}* ({code(tool.url)})?"
    if tool.repositories:
        text += f"\n:warning: {tool.repositories} saved repositories use it: delete them first."
    blocks: list[Block] = [section("tool_remove_intro", text)]
    if status:
        blocks.append(section(ids.B_STATUS, status))
    return View(
        type="modal",
        callback_id=ids.VIEW_TOOL_REMOVE,
        title=plain("Remove Harbor", 24),
        submit=plain("Remove", 24),
        close=plain("Cancel", 24),
        private_metadata=tool_metadata(tool.id),
        blocks=blocks,
    )
