"""Help, the manifest's usage_hint and the dispatcher come from one command table
(issue 22, item 9)."""

from __future__ import annotations

from pathlib import Path

import yaml

from handlers.commands import SUBCOMMANDS
from handlers.ui.help import COMMANDS, HELP, subcommands, usage_hint

ROOT = Path(__file__).resolve().parents[2]


def test_the_manifest_usage_hint_is_the_command_table() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["usage_hint"] == usage_hint()
    assert "audit" in command["usage_hint"] and "project admin" in command["usage_hint"]


def test_every_subcommand_the_bot_knows_is_in_the_help_and_nothing_else() -> None:
    assert subcommands() == set(SUBCOMMANDS) | {"help"}
    for command in COMMANDS:
        assert command.usage in HELP


def test_the_help_names_every_kind_of_registered_tool() -> None:
    assert "the registered Harbor instances" not in HELP
    for tool in ("Harbor", "GitLab", "Quay"):
        assert tool in HELP
