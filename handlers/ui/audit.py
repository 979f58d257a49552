"""Block Kit for the audit trail: `/imagerepo audit` (ephemeral, paged) and Home's
"Recent audit" section. Every value a person or registry chose is mrkdwn-escaped."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock, HeaderBlock
from slack_sdk.models.views import View

from bot.usecases.audit import AuditPage, AuditRow
from handlers.ui.common import context, mrkdwn, plain, section, when
from handlers.ui.i18n import _, counted
from handlers.ui.text import clip_mrkdwn

A_AUDIT_PREV = "audit_page_prev"
A_AUDIT_NEXT = "audit_page_next"
MAX_BLOCKS = 50  # Slack: blocks per message
MAX_HOME_BLOCKS = 100  # Slack: blocks per Home tab
OUTCOME_ICONS = {"ok": ":white_check_mark:", "refused": ":no_entry:", "failed": ":x:"}


def record_text(row: AuditRow, *, with_project: bool = False) -> str:
    """Two lines: when, who, what, outcome; then the target and the credential's digest."""
    who = f"<@{mrkdwn(row.user_id)}>" if row.user_id.startswith(("U", "W")) else mrkdwn(row.user_id)
    if row.user_name:
        who += f" ({mrkdwn(row.user_name)})"
    outcome = f"{OUTCOME_ICONS.get(row.outcome, '')} {mrkdwn(row.outcome)}".strip()
    if row.error_kind:
        outcome += f" ({mrkdwn(row.error_kind)})"
    project = f"  ·  {mrkdwn(row.project)}" if with_project and row.project else ""
    first = f"{when(row.occurred_at)}  ·  {who}  ·  *{mrkdwn(row.action)}*{project}  ·  {outcome}"
    target = [mrkdwn(part) for part in (row.target_url, row.target_repository) if part]
    if row.target_repository:
        target[-1] = f"`{target[-1]}`"
    details = [" ".join(target)] if target else []
    if row.fingerprint:
        details.append(
            _("credential {fingerprint}").format(fingerprint=f"`{mrkdwn(row.fingerprint)}`")
        )
    if row.detail:
        details.append(mrkdwn(row.detail, 300))
    return clip_mrkdwn(first + ("\n" + "  ·  ".join(details) if details else ""))


def audit_text(page: AuditPage) -> str:
    return _("Audit trail of {project}: {count}").format(
        project=mrkdwn(page.project_name),
        count=counted("{count} record", "{count} records", page.total),
    )


def audit_blocks(page: AuditPage) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(
            block_id="audit_title",
            text=plain(_("Audit trail · {project}").format(project=page.project_name)),
        )
    ]
    if not page.rows:
        blocks.append(section("audit_empty", _("Nothing recorded for this project yet.")))
        return blocks
    room = MAX_BLOCKS - 3  # title, page line, pager
    for row in page.rows[:room]:
        blocks.append(section(f"audit_{row.seq}", record_text(row)))
    blocks.append(
        context(
            "audit_page",
            _(
                "Page {page} of {pages}  ·  {count}, newest first  ·  "
                "`imagerepo-bot audit --project` prints them all"
            ).format(
                page=page.page,
                pages=page.pages,
                count=counted("{count} record", "{count} records", page.total),
            ),
        )
    )
    buttons: list[ButtonElement] = []
    if page.page > 1:
        buttons.append(
            ButtonElement(
                action_id=A_AUDIT_PREV, text=plain(_("Previous")), value=str(page.page - 1)
            )
        )
    if page.page < page.pages:
        buttons.append(
            ButtonElement(action_id=A_AUDIT_NEXT, text=plain(_("Next")), value=str(page.page + 1))
        )
    if buttons:
        blocks.append(ActionsBlock(block_id="audit_pager", elements=buttons))
    return blocks


def with_recent_audit(view: View, rows: Sequence[AuditRow]) -> View:
    """Add Home's short "Recent audit" section (workspace admins only get rows)."""
    if not rows:
        return view
    blocks = list(view.blocks or [])
    room = MAX_HOME_BLOCKS - len(blocks) - 2  # divider, heading
    if room <= 0:
        return view
    blocks.append(DividerBlock(block_id="home_audit_divider"))
    blocks.append(section("home_audit", _("*Recent audit* (every project of this workspace)")))
    for row in list(rows)[:room]:
        blocks.append(context(f"home_audit_{row.seq}", record_text(row, with_project=True)))
    view.blocks = blocks
    return view
