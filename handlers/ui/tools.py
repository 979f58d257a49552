"""`/imagerepo tools`: the registered tools (instances of the `registry.TOOL_TYPES` kinds),
and the form to register or edit one (its fields follow the chosen `Tool type`, as its
`registry.kinds.ToolKind` row says)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    CheckboxesElement,
    InputBlock,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.usecases.permissions import REFUSE_TOOLS
from bot.usecases.tools import (
    ToolField,
    ToolGrants,
    ToolInfo,
    ToolPage,
    tool_label,
)
from handlers import ids, metadata
from handlers.ui.common import (
    button_row,
    code,
    context,
    form_modal,
    md,
    mrkdwn,
    pager,
    plain,
    section,
)
from handlers.ui.fields import OPTIONS, ca_bundle_input, label, secret_input
from handlers.ui.i18n import N_, _, number, translate
from registry import LEGACY_TOOL_KIND, TOOL_TYPES, is_tool_kind, tool_kind, tool_kinds_text


def tools_text(page: ToolPage) -> str:
    return _("{total} registered tools (page {page} of {pages})").format(
        total=number(page.total), page=number(page.page), pages=number(page.pages)
    )


def _tools_pager(page: ToolPage) -> list[Block]:
    """Previous / Next under a page of tools (their value: the page to show)."""
    return pager(
        page=page.page,
        pages=page.pages,
        action_id=ids.A_TOOLS_PAGE,
        value_of=str,
        block_id="tools_pager",
        summary_block_id="tools_pages",
        summary=_("Page {page} of {pages}  ·  {total} tools").format(
            page=number(page.page), pages=number(page.pages), total=number(page.total)
        ),
    )


def tools_blocks(page: ToolPage, *, is_admin: bool) -> list[Block]:
    """At most 1 + 20 + 2 + 1 = 24 blocks (Slack: 50 per message)."""
    tools = page.tools
    blocks: list[Block] = [
        section(
            "tools_title",
            _("*Registered tools ({kinds} instances)*").format(kinds=tool_kinds_text(_("and"))),
        ),
    ]
    if not tools:
        blocks.append(
            context(
                "tools_empty",
                _("No {kinds} instance is registered.").format(kinds=tool_kinds_text(_("or"))),
            )
        )
    for tool in tools:
        if tool.token_only:
            account = _("API token")
        elif tool.username:
            account = _("account {username}").format(username=mrkdwn(tool.username))
        else:
            account = _("no account")
        tls = (
            _("custom CA")
            if tool.has_ca_bundle
            else (_("TLS verified") if tool.tls_verify else _("TLS not verified"))
        )
        text = f"*{mrkdwn(tool.name)}*  ·  {tool_label(tool.kind)}  ·  {code(tool.url)}\n" + _(
            "{account}  ·  {tls}  ·  used by {count} repositories"
        ).format(account=account, tls=tls, count=number(tool.repositories))
        accessory = None
        if is_admin:
            accessory = OverflowMenuElement(
                action_id=ids.A_TOOL_MENU,
                options=[
                    Option(
                        value=f"{ids.TOOL_MENU_TEST}:{tool.id}", text=plain(_("Connection Test"))
                    ),
                    Option(value=f"{ids.TOOL_MENU_EDIT}:{tool.id}", text=plain(_("Edit"))),
                    Option(value=f"{ids.TOOL_MENU_GRANTS}:{tool.id}", text=plain(_("Grants"))),
                    Option(value=f"{ids.TOOL_MENU_REMOVE}:{tool.id}", text=plain(_("Remove"))),
                ],
            )
        blocks.append(SectionBlock(block_id=f"tool_{tool.id}", text=md(text), accessory=accessory))
    blocks += _tools_pager(page)
    if is_admin:
        register = _("Register {kinds}").format(kinds=tool_kinds_text(_("or")))
        blocks.append(button_row("tools_actions", register, ids.A_TOOL_REGISTER, style="primary"))
    else:
        blocks.append(context("tools_note", translate(REFUSE_TOOLS)))
    return blocks


@dataclass(frozen=True)
class ToolMeta:
    """Signed private_metadata of the tool modals: the tool they edit or remove (0: a new
    one) and its kind."""

    tool_id: int = 0
    kind: str = LEGACY_TOOL_KIND.value

    def dump(self) -> str:
        return metadata.seal("tool", asdict(self))

    @classmethod
    def load(cls, text: str) -> ToolMeta:
        """ForgedMetadata (a ValueError) unless this app signed it (`LEGACY_TOOL_KIND` for
        modals signed before kinds existed)."""
        data = metadata.unseal("tool", text)
        tool_id, kind = data.get("tool_id"), data.get("kind", LEGACY_TOOL_KIND.value)
        if not isinstance(tool_id, int) or tool_id < 0:
            raise metadata.ForgedMetadata("not a tool id")
        if not is_tool_kind(kind):
            raise metadata.ForgedMetadata("not a tool kind")
        return cls(tool_id, str(kind))


def _kind_option(kind: str) -> Option:
    return Option(value=kind, text=plain(tool_label(kind)))


def tool_modal(
    tool: ToolInfo | None,
    *,
    status: str | None = None,
    kind: str = TOOL_TYPES[0].value,
) -> View:
    """Register (tool is None; `kind` chosen in `Tool type`) or edit a tool (its kind is
    fixed); the secret is never pre-filled. Block ids do not depend on the kind, so what
    the user typed survives a change of `Tool type`."""
    if tool is not None:
        kind = tool.kind
    kind_label = tool_label(kind)
    blocks: list[Block] = [
        *_tool_kind_blocks(tool, kind),
        *_tool_where_blocks(tool, kind),
        *_tool_account_blocks(tool, kind),
        _tool_options_block(tool),
    ]
    return form_modal(
        ids.VIEW_TOOL,
        ToolMeta(tool.id if tool else 0, kind),
        title=(_("Edit {kind}") if tool else _("Register {kind}")).format(kind=kind_label),
        submit=_("Save"),
        blocks=blocks,
        status=status,
    )


def _tool_kind_blocks(tool: ToolInfo | None, kind: str) -> list[Block]:
    """What a tool is for, and its `Tool type` (a select when registering, fixed on edit)."""
    kind_label = tool_label(kind)
    said = (
        _(
            "A {kind} instance every project of this workspace can use. It is tested with its "
            "token before it is saved."
        )
        if tool_kind(kind).token_only
        else _(
            "A {kind} instance every project of this workspace can use. It is tested with its "
            "account before it is saved."
        )
    )
    intro = section("tool_intro", said.format(kind=kind_label))
    if tool is not None:
        fixed = _("Tool type: *{kind}* (it cannot change).").format(kind=kind_label)
        return [intro, context(ids.B_TOOL_KIND, fixed)]
    return [
        intro,
        InputBlock(
            block_id=ids.B_TOOL_KIND,
            label=plain(_("Tool type")),
            dispatch_action=True,
            element=StaticSelectElement(
                action_id=ids.A_TOOL_KIND,
                options=[_kind_option(t.value) for t in TOOL_TYPES],
                initial_option=_kind_option(kind),
            ),
        ),
    ]


def _tool_where_blocks(tool: ToolInfo | None, kind: str) -> list[Block]:
    """The tool's name and URL."""
    return [
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
            label=plain(_("{kind} URL").format(kind=tool_label(kind))),
            hint=plain(_(tool_kind(kind).url_hint), 150),
            element=PlainTextInputElement(
                action_id=ids.A_TOOL_URL,
                initial_value=tool.url if tool else None,
                placeholder=plain(tool_kind(kind).url_placeholder),
                max_length=2048,
            ),
        ),
    ]


def _secret_hint(tool: ToolInfo | None, kind: str) -> str:
    keep = _("Leave empty to keep the saved one (same URL only).")
    if tool_kind(kind).token_only:
        return _(tool_kind(kind).token_hint) + (f" {keep}" if tool is not None else "")
    if tool is not None:
        return keep
    return _("An admin's password or a robot account's secret; stored encrypted.")


def _tool_account_blocks(tool: ToolInfo | None, kind: str) -> list[Block]:
    """Username (not for token-only kinds), secret (kept when left empty on an edit) and
    CA bundle."""
    token_only = tool_kind(kind).token_only
    blocks: list[Block] = []
    if not token_only:
        blocks.append(
            InputBlock(
                block_id=ids.B_TOOL_USERNAME,
                label=label(ToolField.USERNAME),
                optional=True,
                hint=plain(_("An admin or a robot account (robot$...)."), 150),
                element=PlainTextInputElement(
                    action_id=ids.A_TOOL_USERNAME,
                    initial_value=(tool.username or None) if tool else None,
                    max_length=255,
                ),
            )
        )
    blocks += [
        secret_input(
            ids.B_TOOL_SECRET,
            ids.A_TOOL_SECRET,
            plain(_("API token")) if token_only else label(ToolField.SECRET),
            advice=_secret_hint(tool, kind),
            optional=not token_only or tool is not None,
        ),
        ca_bundle_input(
            ids.B_TOOL_CA,
            ids.A_TOOL_CA,
            _("Leave empty to keep the saved one.")
            if tool and tool.has_ca_bundle
            else _("For an instance whose certificate a private CA signed."),
        ),
    ]
    return blocks


def _tool_options_block(tool: ToolInfo | None) -> InputBlock:
    insecure = Option(value=ids.OPT_INSECURE, text=plain(_("Skip TLS certificate verification")))
    return InputBlock(
        block_id=ids.B_TOOL_OPTIONS,
        label=plain(_(OPTIONS)),
        optional=True,
        element=CheckboxesElement(
            action_id=ids.A_TOOL_OPTIONS,
            options=[insecure],
            initial_options=[insecure] if tool is not None and not tool.tls_verify else None,
        ),
    )


def tool_remove_modal(tool: ToolInfo, *, status: str | None = None) -> View:
    text = _("Remove the registered tool *{name}* ({url})?").format(
        name=mrkdwn(tool.name), url=code(tool.url)
    )
    if tool.repositories:
        text += "\n" + _(":warning: {count} saved repositories use it: delete them first.").format(
            count=number(tool.repositories)
        )
    return form_modal(
        ids.VIEW_TOOL_REMOVE,
        ToolMeta(tool.id, tool.kind),
        title=_("Remove {kind}").format(kind=tool_label(tool.kind)),
        submit=_("Remove"),
        blocks=[section("tool_remove_intro", text)],
        status=status,
    )


GRANTS_TITLE = N_("Tool grants")
# A modal holds at most 100 blocks: the grants shown, then the add form and the status.
MAX_GRANTS_SHOWN = 80


def tool_grants_modal(grants: ToolGrants, *, status: str | None = None) -> View:
    """Where the tool's own account may be spent: one row per grant (project, namespace)
    with a Remove button, and a form to add one (Submit: `Add grant`)."""
    tool = grants.tool
    blocks: list[Block] = [
        section(
            "grants_intro",
            _(
                "*{name}* ({kind}, {url}): its own account is used (Connection Test, re-checks, "
                "Create new, delete in IR) only for repositories inside a namespace granted to "
                "the entry's project. Elsewhere an entry through it works only with the account "
                "its user typed."
            ).format(name=mrkdwn(tool.name), kind=tool_label(tool.kind), url=code(tool.url)),
        )
    ]
    if not grants.grants:
        blocks.append(context("grants_empty", _("Not granted to any project yet.")))
    for grant in grants.grants[:MAX_GRANTS_SHOWN]:
        blocks.append(
            SectionBlock(
                block_id=f"grant_{grant.id}",
                text=md(
                    _("*{project}*  ·  {namespace}  ·  granted by <@{user}>").format(
                        project=mrkdwn(grant.project_name),
                        namespace=code(grant.namespace),
                        user=mrkdwn(grant.granted_by),
                    )
                ),
                accessory=ButtonElement(
                    action_id=ids.A_GRANT_REMOVE,
                    text=plain(_("Remove")),
                    value=f"{tool.id}:{grant.id}",
                ),
            )
        )
    if len(grants.grants) > MAX_GRANTS_SHOWN:
        blocks.append(
            context(
                "grants_more",
                _("{count} more not shown.").format(
                    count=number(len(grants.grants) - MAX_GRANTS_SHOWN)
                ),
            )
        )
    blocks += [
        InputBlock(
            block_id=ids.B_GRANT_PROJECT,
            label=plain(_("Project")),
            hint=plain(_("The project's name, as in /imagerepo project create NAME."), 150),
            element=PlainTextInputElement(action_id=ids.A_GRANT_PROJECT, max_length=80),
        ),
        InputBlock(
            block_id=ids.B_GRANT_NAMESPACE,
            label=plain(_("Namespace")),
            hint=plain(
                _(
                    "A {kind} {namespace}: team-a covers team-a/...; team-* covers names "
                    "starting team-."
                ).format(
                    kind=tool_kind(grants.tool.kind).label,
                    namespace=_(tool_kind(grants.tool.kind).namespace),
                ),
                150,
            ),
            element=PlainTextInputElement(
                action_id=ids.A_GRANT_NAMESPACE,
                max_length=255,
                placeholder=plain("team-a"),
            ),
        ),
    ]
    return form_modal(
        ids.VIEW_TOOL_GRANTS,
        ToolMeta(tool.id, tool.kind),
        title=_(GRANTS_TITLE),
        submit=_("Add grant"),
        blocks=blocks,
        status=status,
    )
