"""The repository list: an ephemeral message (`/imagerepo list`) and the App Home tab.

One section per repository (type, URL, repository, app or pull-only, health and
last check) with an overflow menu; at most 20 rows a page, Previous / Next.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    Option,
    OverflowMenuElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.usecases.checks import CheckSummary
from bot.usecases.permissions import EntryRights
from bot.usecases.repositories import RepositoryPage, RepositoryRow
from handlers import ids, metadata
from handlers.ui.alerts import alert_status, blocked_notice
from handlers.ui.channel import access_text
from handlers.ui.common import code, context, health_label, md, mrkdwn, plain, section, when
from handlers.ui.common import pager as page_buttons
from handlers.ui.i18n import _, counted, translate
from handlers.ui.registry_words import translated_failure
from handlers.ui.text import MESSAGE_TEXT_MAX, clip_mrkdwn
from registry import type_info
from registry.results import quota_note


def menu_value(action: str, repository_id: int) -> str:
    return f"{action}:{repository_id}"


def page_value(project_id: int, page: int) -> str:
    return f"{project_id}:{page}"


def row_blocks(row: RepositoryRow, rights: EntryRights) -> list[Block]:
    """The row's menu offers what `rights` (from bot.usecases.permissions) allow."""
    where = ""
    if row.tool_name:
        kind = type_info(row.registry_type).tool  # an entry's tool is of its type
        where = _("{kind} *{name}* ").format(
            kind=kind.label if kind else row.type_label, name=mrkdwn(row.tool_name)
        )
    text = (
        f"*{code(row.repository)}*  ·  {row.type_label}  ·  {access_text(row.access)}\n"
        f"{where}{code(row.registry_url)}"
    )
    status = _("{health}  ·  last check {when}").format(
        health=health_label(row.health), when=when(row.last_checked_at)
    )
    if row.health == "failing" and row.last_message:
        status += f"  ·  {mrkdwn(row.last_message, 300)}"
    if row.username:
        status += _("  ·  account {name}").format(name=mrkdwn(row.username))
    status += alert_status(row)
    if row.health == "healthy" and (pulls := quota_note(row.last_message)):
        status += f"  ·  {pulls}"  # the pull quota from the last test: digits and words only
    if row.needs_account:
        # Its tool's account is not spent here (no grant covers it) and it has none of its own.
        status += f"  ·  :warning: {mrkdwn(translate(row.needs_account))}"
    choices = [
        (action, label)
        for action, label, allowed in (
            (ids.MENU_TEST, _("Connection Test"), rights.may_test),
            (ids.MENU_ACCOUNT, _("Change account"), rights.may_change_account),
            (ids.MENU_DELETE, _("Delete"), rights.may_delete),
        )
        if allowed
    ]
    menu: OverflowMenuElement | ButtonElement | None = None
    if len(choices) == 1:
        # Slack refuses an overflow menu of fewer than 2 options: one choice is a button
        # with the same action id and value (the listener reads either).
        action, label = choices[0]
        menu = ButtonElement(
            action_id=ids.A_ROW_MENU, text=plain(label), value=menu_value(action, row.id)
        )
    elif choices:
        menu = OverflowMenuElement(
            action_id=ids.A_ROW_MENU,
            options=[
                Option(value=menu_value(action, row.id), text=plain(label))
                for action, label in choices
            ],
        )
    return [
        SectionBlock(block_id=f"repo_{row.id}", text=md(text), accessory=menu),
        ContextBlock(block_id=f"repo_{row.id}_status", elements=[md(status)]),
    ]


def pager(project_id: int, page: RepositoryPage) -> list[Block]:
    return page_buttons(
        page=page.page,
        pages=page.pages,
        action_id=ids.A_PAGE,
        value_of=lambda to: page_value(project_id, to),
        block_id="pager",
        summary_block_id="pages",
        summary=_("Page {page} of {pages}  ·  {count}").format(
            page=page.page,
            pages=page.pages,
            count=counted("{count} repository", "{count} repositories", page.total),
        ),
    )


def list_blocks(project_id: int, project_name: str, page: RepositoryPage) -> list[Block]:
    """At most 1 + 1 + 2*20 + 2 = 44 blocks: under Slack's 50 per message."""
    blocks: list[Block] = [
        section(
            "list_title",
            _("*Image repositories of {project}*").format(project=mrkdwn(project_name))
            + (f"  ({page.total})" if page.total else ""),
        )
    ]
    if page.alerts_blocked:
        blocks.append(blocked_notice())
    if not page.rows:
        blocks.append(
            context(
                "list_empty",
                _(
                    "No repositories yet: `/imagerepo add` (app) or "
                    "`/imagerepo add-pull` (pull-only)."
                ),
            )
        )
    for row in page.rows:
        blocks += row_blocks(row, page.rights_of(row.id))
    blocks += pager(project_id, page)
    return blocks


def list_text(project_name: str, page: RepositoryPage) -> str:
    count = counted("{count} image repository", "{count} image repositories", page.total)
    return _("{count} in {project} (page {page} of {pages})").format(
        count=count, project=mrkdwn(project_name), page=page.page, pages=page.pages
    )


def home_metadata(project_id: int | None) -> str:
    """The Home tab remembers its selected project (signed, like every metadata)."""
    return metadata.seal("home", {"project_id": project_id or 0})


def home_project(text: str) -> int | None:
    """The project the Home tab showed last, or None (unsigned or none chosen)."""
    try:
        project_id = metadata.unseal("home", text).get("project_id")
    except metadata.ForgedMetadata:
        return None
    return project_id if isinstance(project_id, int) and project_id > 0 else None


# Options of a static select, and of one block_suggestion answer (Block Kit reference).
SELECT_OPTIONS_MAX = 100


def project_options(projects: Sequence[tuple[int, str]], query: str = "") -> list[Option]:
    """Home's project choices whose name holds the typed text, 100 at most."""
    wanted = query.strip().lower()
    return [
        Option(value=str(pid), text=plain(name)) for pid, name in projects if wanted in name.lower()
    ][:SELECT_OPTIONS_MAX]


def _project_select(
    projects: Sequence[tuple[int, str]], selected: int | None
) -> StaticSelectElement | ExternalDataSelectElement:
    """Up to 100 projects: a static select. More: an external select (options from
    block_suggestion, handlers/options.py) starting on the project shown, so every
    project can be chosen and the one past the 100th is shown as itself."""
    shown = dict(projects)
    initial = selected if selected in shown else projects[0][0]
    initial_option = Option(value=str(initial), text=plain(shown[initial]))
    if len(projects) <= SELECT_OPTIONS_MAX:
        return StaticSelectElement(
            action_id=ids.A_HOME_PROJECT,
            options=project_options(projects),
            initial_option=initial_option,
        )
    return ExternalDataSelectElement(
        action_id=ids.A_HOME_PROJECT, initial_option=initial_option, min_query_length=0
    )


def home_view(
    projects: Sequence[tuple[int, str]],
    selected: int | None,
    page: RepositoryPage | None,
) -> View:
    blocks: list[Block] = [HeaderBlock(block_id="home_title", text=plain(_("Image repositories")))]
    if not projects:
        blocks.append(
            section(
                "home_empty",
                _(
                    "No project yet. In a channel, run `/imagerepo project create NAME`, then "
                    "`/imagerepo add` to add an image repository."
                ),
            )
        )
        return View(type="home", callback_id="home", blocks=blocks)
    blocks.append(
        SectionBlock(
            block_id=ids.B_HOME_PROJECT,
            text=md(_("*Project*")),
            accessory=_project_select(projects, selected),
        )
    )
    blocks.append(DividerBlock(block_id="home_divider"))
    if page is not None and selected is not None:
        name = dict(projects).get(selected, "")
        blocks += list_blocks(selected, name, page)
    blocks.append(
        context("home_help", _("In the project's channel: `/imagerepo add`, `add-pull`, `check`."))
    )
    return View(
        type="home",
        callback_id="home",
        private_metadata=home_metadata(selected),
        blocks=blocks,
    )


CHECK_SUMMARY_ROWS = 20


def check_summary_text(summary: CheckSummary) -> str:
    """`/imagerepo check`'s answer: the failing connections, 20 at most, each cut short."""
    if summary.total == 0:
        return _("There is no repository to check yet: add one with `/imagerepo add`.")
    if not summary.failing:
        if summary.total == 1:
            return _(":large_green_circle: The connection passed.")
        return _(":large_green_circle: All {count} connections passed.").format(
            count=f"{summary.total:,}"
        )
    total = counted("{count} connection", "{count} connections", summary.total)
    lines = [
        _(":red_circle: {failed} of {total} failed:").format(
            failed=f"{len(summary.failing):,}", total=total
        )
    ]
    for row in summary.failing[:CHECK_SUMMARY_ROWS]:
        said = translated_failure(row.last_message) if row.last_message else None
        reason = mrkdwn(said or row.last_error_kind or _("failed"), 200)
        lines.append(
            _("• {repository} on {url}: {reason}").format(
                repository=code(row.repository), url=code(row.registry_url, 200), reason=reason
            )
        )
    if len(summary.failing) > CHECK_SUMMARY_ROWS:
        more = len(summary.failing) - CHECK_SUMMARY_ROWS
        lines.append(_("…and {more} more (see `/imagerepo list`).").format(more=more))
    return clip_mrkdwn("\n".join(lines), MESSAGE_TEXT_MAX)
