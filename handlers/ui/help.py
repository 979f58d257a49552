"""The help text of `/imagerepo`, and the manifest's `usage_hint`, from one command table.

`manifest.yml`'s `usage_hint` must match `usage_hint()` (a test compares them), and
every subcommand the dispatcher knows has a row here (a test checks that too), so the
help, the hint Slack shows while typing and the code cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry import tool_kinds_text


@dataclass(frozen=True)
class Command:
    """One row: how it is typed (`usage`), its short form for the hint, what it does."""

    usage: str
    hint: str
    does: str


COMMANDS: tuple[Command, ...] = (
    Command(
        "`/imagerepo project create NAME`",
        "project create NAME",
        "bind a new project to this channel (you become its admin)",
    ),
    Command(
        "`/imagerepo project admin add @user` / `project admin remove @user`",
        "project admin add|remove @user",
        "manage its admins",
    ),
    Command("`/imagerepo add`", "add", "add an app image repository (CI pushes to it)"),
    Command("`/imagerepo add-pull`", "add-pull", "add a pull-only image repository"),
    Command(
        "`/imagerepo list`",
        "list",
        "the repositories, their health, and Connection Test / Change account / Delete",
    ),
    Command("`/imagerepo check`", "check", "test every saved connection now"),
    Command(
        "`/imagerepo tools`",
        "tools",
        f"the registered tools ({tool_kinds_text('and')}) this project may use; "
        "workspace admins register them and grant them to projects",
    ),
    Command(
        "`/imagerepo audit`",
        "audit",
        "who changed what in this project, and with what result (its admins)",
    ),
    Command("`/imagerepo help`", "help", "this text"),
)


def subcommands() -> set[str]:
    """The first word of every row: what the dispatcher must know."""
    return {command.hint.split()[0] for command in COMMANDS}


def usage_hint() -> str:
    """What manifest.yml's slash command shows as `usage_hint`."""
    ordered = sorted(COMMANDS, key=lambda c: c.hint != "help")  # help first, as Slack shows it
    return " | ".join(command.hint for command in ordered)


HELP = "\n".join(
    [
        "*`/imagerepo` manages the container image repositories of this channel's project.*",
        *(f"• {command.usage}: {command.does}" for command in COMMANDS),
        "The same list is on the app's *Home* tab.",
    ]
)
