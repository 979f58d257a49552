"""The help text of `/imagerepo`, and the manifest's `usage_hint`, from one command table.

`manifest.yml`'s `usage_hint` must match `usage_hint()` (a test compares them), and
every subcommand the dispatcher knows has a row here (a test checks that too), so the
help, the hint Slack shows while typing and the code cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.ui.i18n import N_, _
from registry import tool_kinds_text


@dataclass(frozen=True)
class Command:
    """One row: how it is typed (`usage`), its short form for the hint, what it does
    (an English msgid, translated when the help is shown)."""

    usage: str
    hint: str
    does: str


COMMANDS: tuple[Command, ...] = (
    Command(
        "`/imagerepo project create NAME`",
        "project create NAME",
        N_("bind a new project to this channel (you become its admin)"),
    ),
    Command(
        "`/imagerepo project admin add @user` / `project admin remove @user`",
        "project admin add|remove @user",
        N_("manage its admins"),
    ),
    Command(
        "`/imagerepo project language ko|en`",
        "project language ko|en",
        N_("the language of its channel messages (its admins)"),
    ),
    Command("`/imagerepo add`", "add", N_("add an app image repository (CI pushes to it)")),
    Command("`/imagerepo add-pull`", "add-pull", N_("add a pull-only image repository")),
    Command(
        "`/imagerepo list`",
        "list",
        N_("the repositories, their health, and Connection Test / Change account / Delete"),
    ),
    Command("`/imagerepo check`", "check", N_("test every saved connection now")),
    Command(
        "`/imagerepo tools`",
        "tools",
        N_(
            "the registered tools ({kinds}) this project may use; workspace admins register "
            "them and grant them to projects"
        ),
    ),
    Command(
        "`/imagerepo audit`",
        "audit",
        N_("who changed what in this project, and with what result (its admins)"),
    ),
    Command("`/imagerepo help`", "help", N_("this text")),
)

_TITLE = N_("*`/imagerepo` manages the container image repositories of this channel's project.*")
_FOOTER = N_(
    "The same list is on the app's *Home* tab.\n"
    "You are answered in your Slack language (한국어 or English)."
)


def subcommands() -> set[str]:
    """The first word of every row: what the dispatcher must know."""
    return {command.hint.split()[0] for command in COMMANDS}


def usage_hint() -> str:
    """What manifest.yml's slash command shows as `usage_hint`."""
    ordered = sorted(COMMANDS, key=lambda c: c.hint != "help")  # help first, as Slack shows it
    return " | ".join(command.hint for command in ordered)


def help_text() -> str:
    """The help in this request's language, built from the one command table."""
    kinds = tool_kinds_text(_("and"))
    rows = (f"• {c.usage}: {_(c.does).format(kinds=kinds)}" for c in COMMANDS)
    return "\n".join([_(_TITLE), *rows, _(_FOOTER)])


HELP = help_text()  # English (no request language is set at import): the contract's text
