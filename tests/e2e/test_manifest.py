"""manifest.yml: one endpoint for everything, App Home on, only the scopes the bot uses."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_points_everything_at_the_one_endpoint() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features, settings = manifest["features"], manifest["settings"]
    (command,) = features["slash_commands"]
    assert command["command"] == "/imagerepo" and command["should_escape"] is True
    urls = [
        command["url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
        settings["event_subscriptions"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "member_joined_channel",
    ]
    assert features["app_home"]["home_tab_enabled"] is True


def test_manifest_asks_only_for_the_scopes_the_code_uses() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {
        "commands",
        "chat:write",
        "chat:write.public",
        "users:read",
        "channels:read",
        "groups:read",
    }
    sources = "\n".join(
        p.read_text() for p in [*(ROOT / "handlers").rglob("*.py"), *(ROOT / "bot").rglob("*.py")]
    )
    methods = set(re.findall(r"\b(?:client|slack)\.(\w+)\(", sources))
    assert {"views_open", "views_update", "views_publish", "users_info"} <= methods
    # Web API methods and the scope each needs (views.* need none).
    needs = {
        "chat_postMessage": "chat:write",
        "chat_update": "chat:write",
        "users_info": "users:read",
        "conversations_info": "channels:read",
    }
    for method in methods:
        assert method.startswith("views_") or method in needs, method
    assert {needs[m] for m in methods if m in needs} <= scopes
