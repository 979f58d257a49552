"""The request builders produce what Slack sends, proven by slack_sdk and Bolt themselves.

Signatures are checked with ``slack_sdk.signature.SignatureVerifier``; the
payload builders are fed to a real Bolt ``AsyncApp`` (in-process over ASGI,
Web API calls going to the stand-in) and must reach the intended listeners.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.support import slack_requests as sr
from tests.support.slack_api import SlackApiStandIn

SECRET = "test-signing-secret"


# -- signing -------------------------------------------------------------------


def test_signature_verifies_with_slack_sdk_and_tampering_fails() -> None:
    body = sr.slash_command("list")
    headers = sr.sign(body, SECRET)
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert not verifier.is_valid_request(body + b"&text=delete", headers)
    assert not verifier.is_valid_request(body.replace(b"list", b"tools"), headers)
    assert not SignatureVerifier(SECRET + "x").is_valid_request(body, headers)


def test_signature_timestamp_is_what_makes_a_request_stale() -> None:
    body = sr.app_home_opened("U1")
    old = int(time.time()) - 6 * 60
    stale = sr.sign(body, SECRET, timestamp=old)
    assert stale["X-Slack-Request-Timestamp"] == str(old)
    assert stale["Content-Type"] == "application/json"
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)

    class Then:
        def now(self) -> float:
            return float(old)

    assert SignatureVerifier(SECRET, clock=Then()).is_valid_request(body, stale)  # type: ignore[arg-type]


# -- bodies ----------------------------------------------------------------------


def test_slash_command_is_a_slack_form() -> None:
    body = sr.slash_command("project create web", user_id="U7", channel_id="C7")
    assert b"command=%2Fimagerepo" in body
    assert b"text=project+create+web" in body
    fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert fields["user_id"] == "U7"
    assert fields["channel_id"] == "C7"
    assert fields["team_id"] == "T1"
    assert fields["response_url"].startswith("https://hooks.slack.com/commands/T1/")
    assert len(fields["trigger_id"].split(".")) == 3
    assert sr.slash_command("x") != sr.slash_command("x")  # a fresh trigger_id each time


def test_interactive_payloads_carry_view_state_and_container() -> None:
    view = {"id": "V1", "hash": "1.a", "type": "modal", "blocks": []}
    values = sr.state_values(("url", "url", sr.plain_text_value("https://r.example")))
    payload = sr.decode_payload(
        sr.block_actions([sr.button_action("url_check", "checks")], view=view, values=values)
    )
    assert payload["type"] == "block_actions"
    assert payload["container"] == {"type": "view", "view_id": "V1"}
    assert payload["view"]["state"]["values"]["url"]["url"]["value"] == "https://r.example"
    assert payload["actions"][0]["action_ts"]

    from_message = sr.decode_payload(
        sr.block_actions(
            [sr.overflow_action("row", "repo-3", "delete")],
            channel_id="C1",
            message={"type": "message", "ts": "171.000100", "text": "list"},
        )
    )
    assert from_message["container"]["message_ts"] == "171.000100"
    assert from_message["channel"]["id"] == "C1"
    assert from_message["response_url"].startswith("https://hooks.slack.com/")

    closed = sr.decode_payload(sr.view_closed(view, is_cleared=True))
    assert (closed["type"], closed["is_cleared"]) == ("view_closed", True)


def test_state_value_helpers_match_slacks_shapes() -> None:
    assert sr.plain_text_value("a") == {"type": "plain_text_input", "value": "a"}
    assert sr.static_select_value(None) == {"type": "static_select", "selected_option": None}
    assert sr.external_select_value("7", "harbor-7")["selected_option"] == {
        "text": {"type": "plain_text", "text": "harbor-7", "emoji": True},
        "value": "7",
    }
    boxes = sr.checkboxes_value("also_in_ir")
    assert boxes["type"] == "checkboxes"
    assert [o["value"] for o in boxes["selected_options"]] == ["also_in_ir"]
    assert sr.radio_buttons_value("create")["selected_option"]["value"] == "create"
    assert sr.checkboxes_value() == {"type": "checkboxes", "selected_options": []}


# -- Bolt routes every builder to the intended listener ---------------------------


def repository_modal() -> View:
    return View(
        type="modal",
        callback_id="repo_add",
        notify_on_close=True,
        title="Add repository",
        submit="Save",
        blocks=[
            InputBlock(
                block_id="type",
                label="Repository type",
                dispatch_action=True,
                element=StaticSelectElement(
                    action_id="type",
                    options=[
                        Option(value="harbor", text="Harbor"),
                        Option(value="registry", text="Image Registry"),
                    ],
                ),
            ),
            InputBlock(
                block_id="tool",
                label="Registered tool",
                element=ExternalDataSelectElement(action_id="tool", min_query_length=0),
            ),
            InputBlock(
                block_id="url",
                label="Registry URL",
                element=PlainTextInputElement(action_id="url"),
            ),
            ActionsBlock(
                block_id="checks",
                elements=[ButtonElement(action_id="url_check", text="URL Check")],
            ),
        ],
    )


@dataclass
class BoltRig:
    standin: SlackApiStandIn
    slack: sr.SlackClient
    seen: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
async def rig(standin: SlackApiStandIn) -> AsyncIterator[BoltRig]:
    seen: dict[str, Any] = {}
    app = AsyncApp(
        client=AsyncWebClient(token=standin.bot_token, base_url=standin.base_url),
        signing_secret=SECRET,
    )

    @app.command("/imagerepo")
    async def command(ack: Any, command: dict[str, Any], client: Any, respond: Any) -> None:
        await ack()
        seen["command"] = command
        await client.views_open(trigger_id=command["trigger_id"], view=repository_modal())
        await respond("Opening the form")

    @app.action("type")
    async def choose_type(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen["type"] = body

    @app.action("url_check")
    async def url_check(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen["url_check"] = body

    @app.options("tool")
    async def tools(ack: Any, body: dict[str, Any]) -> None:
        seen["options"] = body
        await ack(options=[{"text": {"type": "plain_text", "text": "harbor-1"}, "value": "1"}])

    @app.view("repo_add")
    async def submit(ack: Any, view: dict[str, Any]) -> None:
        seen["submission"] = view
        await ack(response_action="errors", errors={"url": "Not a registry"})

    @app.view_closed("repo_add")
    async def closed(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen["closed"] = body

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: Any) -> None:
        seen["home"] = event
        await client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {
                        "type": "section",
                        "block_id": "intro",
                        "text": {"type": "mrkdwn", "text": "Repositories"},
                    }
                ],
            },
        )

    # Bolt types its ASGI scope more narrowly than httpx; it is a plain ASGI app.
    transport = httpx.ASGITransport(app=AsyncSlackRequestHandler(app))  # type: ignore[arg-type]
    client = sr.SlackClient(
        "http://bot.test/slack/events", SECRET, standin=standin, transport=transport
    )
    async with client:
        yield BoltRig(standin, client, seen)


async def test_bolt_accepts_every_builder(rig: BoltRig) -> None:
    answer = await rig.slack.command("add")
    assert answer.status_code == 200
    [opened] = await rig.standin.wait_for_async("views.open")
    await rig.standin.wait_for_async("response_url")
    assert rig.seen["command"]["text"] == "add"
    view = opened.response["view"]

    chosen = sr.static_select_action("type", "type", "harbor", text="Harbor")
    assert (await rig.slack.action([chosen], view=view)).status_code == 200
    typed = sr.values_by_label(view, {"Registry URL": sr.plain_text_value("https://r.test")})
    click = sr.find_button(view, "URL Check")
    await rig.slack.action(
        [sr.button_action(click.action_id, click.block_id)], view=view, values=typed
    )
    options = await rig.slack.suggest("tool", "tool", "harb", view=view)
    assert options.json()["options"][0]["value"] == "1"

    values = sr.values_by_label(
        view,
        {
            "Repository type": sr.static_select_value("registry"),
            "Registered tool": sr.external_select_value("1", "harbor-1"),
            "Registry URL": sr.plain_text_value("not a url"),
        },
    )
    submitted = await rig.slack.submit(view, values)
    assert submitted.json() == {"response_action": "errors", "errors": {"url": "Not a registry"}}
    assert (await rig.slack.close_view(view)).status_code == 200
    assert (await rig.slack.home_opened(user_id="U5")).status_code == 200
    await rig.standin.wait_for_async("views.publish")

    assert rig.seen["type"]["actions"][0]["selected_option"]["value"] == "harbor"
    assert rig.seen["url_check"]["view"]["state"]["values"]["url"]["url"]["value"] == (
        "https://r.test"
    )
    assert rig.seen["options"]["value"] == "harb"
    # values_by_label used the option as the view declared it (text "Image Registry").
    chosen_type = rig.seen["submission"]["state"]["values"]["type"]["type"]["selected_option"]
    assert chosen_type["text"]["text"] == "Image Registry"
    assert rig.seen["closed"]["view"]["id"] == view["id"]
    assert rig.seen["home"]["user"] == "U5"
    assert rig.standin.home_view("U5")["blocks"][0]["block_id"] == "intro"
    assert rig.standin.violations == []


@pytest.mark.parametrize(
    "variant", ["post_bad_signature", "post_stale", "post_tampered", "post_unsigned"]
)
async def test_bolt_refuses_badly_signed_requests(rig: BoltRig, variant: str) -> None:
    post = getattr(rig.slack, variant)
    answer = await post(sr.slash_command("add"))
    assert answer.status_code == 401
    assert "command" not in rig.seen
    assert rig.standin.calls == []  # not even auth.test: refused before any listener


async def test_url_verification_challenge_is_echoed(rig: BoltRig) -> None:
    answer = await rig.slack.post(sr.url_verification("xyz"))
    assert answer.status_code == 200
    assert json.loads(answer.text)["challenge"] == "xyz"
