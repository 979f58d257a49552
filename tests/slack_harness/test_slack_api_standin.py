"""The Web API stand-in answers like Slack, so end-to-end tests can trust it.

Each test drives the stand-in with slack_sdk's own clients (what the bot uses)
and checks the answer and what was recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from tests.support.slack_api import SlackApiStandIn, validate_view


def client_for(standin: SlackApiStandIn, **kwargs: Any) -> AsyncWebClient:
    """An AsyncWebClient like the bot's, pointed at the stand-in, no retries unless given."""
    kwargs.setdefault("retry_handlers", [])
    return AsyncWebClient(token=standin.bot_token, base_url=standin.base_url, timeout=5, **kwargs)


def add_modal(title: str = "Add repository") -> View:
    """A small modal built the way the handlers build theirs (slack_sdk.models)."""
    return View(
        type="modal",
        callback_id="repo_add",
        title=title,
        submit="Save",
        close="Cancel",
        private_metadata='{"project": 1}',
        blocks=[
            InputBlock(
                block_id="registry_url",
                label="Registry URL",
                element=PlainTextInputElement(action_id="registry_url"),
            ),
            ActionsBlock(
                block_id="checks",
                elements=[ButtonElement(action_id="url_check", text="URL Check")],
            ),
        ],
    )


def section(block_id: str | None, text: str = "row") -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def modal_dict(blocks: list[dict[str, Any]], title: str = "Add repository") -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": blocks}


async def expect_error(call: Any, error: str) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        await call
    assert raised.value.response["error"] == error
    return raised.value


# -- views ------------------------------------------------------------------


async def test_valid_view_round_trips_with_id_and_hash(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    opened = await client.views_open(trigger_id="1.2.abc", view=add_modal())

    view = opened["view"]
    assert view["id"].startswith("V")
    assert view["hash"]
    assert view["callback_id"] == "repo_add"
    assert view["private_metadata"] == '{"project": 1}'
    assert [b["block_id"] for b in view["blocks"]] == ["registry_url", "checks"]
    assert view["state"] == {"values": {}}
    assert standin.view(view["id"]) == view

    updated = await client.views_update(
        view_id=view["id"], hash=view["hash"], view=add_modal("Testing...")
    )
    assert updated["view"]["id"] == view["id"]
    assert updated["view"]["hash"] != view["hash"]
    assert updated["view"]["title"]["text"] == "Testing..."

    calls = standin.calls_to("views.update")
    assert len(calls) == 1
    assert calls[0].params["view_id"] == view["id"]
    assert calls[0].headers["authorization"] == f"Bearer {standin.bot_token}"
    assert standin.violations == []


async def test_stale_hash_gives_hash_conflict(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    view = (await client.views_open(trigger_id="t-1", view=add_modal()))["view"]
    await client.views_update(view_id=view["id"], hash=view["hash"], view=add_modal("Second"))

    await expect_error(
        client.views_update(view_id=view["id"], hash=view["hash"], view=add_modal("Stale")),
        "hash_conflict",
    )
    assert standin.view(view["id"])["title"]["text"] == "Second"
    assert standin.calls_to("views.update")[-1].error == "hash_conflict"
    # A conflict is something a correct bot meets, not a contract violation.
    assert standin.violations == []


async def test_update_of_unknown_view_or_external_id_is_not_found(
    standin: SlackApiStandIn,
) -> None:
    client = client_for(standin)
    await expect_error(client.views_update(view_id="VNOPE", view=add_modal()), "not_found")
    await expect_error(client.views_update(external_id="nope", view=add_modal()), "not_found")

    modal = add_modal()
    modal.external_id = "repo-add-U1"
    opened = (await client.views_open(trigger_id="t-2", view=modal))["view"]
    by_external = await client.views_update(external_id="repo-add-U1", view=add_modal("Again"))
    assert by_external["view"]["id"] == opened["id"]


async def test_trigger_id_works_once(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    await client.views_open(trigger_id="t-once", view=add_modal())
    await expect_error(
        client.views_open(trigger_id="t-once", view=add_modal()), "expired_trigger_id"
    )


async def test_views_update_keeps_typed_values_of_stable_block_ids(
    standin: SlackApiStandIn,
) -> None:
    client = client_for(standin)
    view = (await client.views_open(trigger_id="t-3", view=add_modal()))["view"]
    with standin._lock:  # what Slack holds once the user typed something
        standin._views[view["id"]]["state"]["values"] = {
            "registry_url": {"registry_url": {"type": "plain_text_input", "value": "x"}},
            "gone": {"a": {"type": "plain_text_input", "value": "y"}},
        }
    updated = (await client.views_update(view_id=view["id"], view=add_modal("Next")))["view"]
    assert list(updated["state"]["values"]) == ["registry_url"]


async def test_views_publish_remembers_the_home_tab_per_user(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    home = {"type": "home", "blocks": [section("intro", "Image repositories")]}
    first = (await client.views_publish(user_id="U1", view=home))["view"]
    second = (await client.views_publish(user_id="U1", view=home, hash=first["hash"]))["view"]
    assert second["id"] == first["id"]
    assert standin.home_view("U1")["hash"] == second["hash"]
    await expect_error(
        client.views_publish(user_id="U1", view=home, hash=first["hash"]), "hash_conflict"
    )
    assert standin.violations == []


# -- Block Kit contract ------------------------------------------------------


async def test_over_long_title_is_invalid_blocks_and_a_violation(
    standin: SlackApiStandIn,
) -> None:
    client = client_for(standin)
    long_title = "Add an image repository now"  # 27 > 24
    error = await expect_error(
        client.views_open(trigger_id="t", view=modal_dict([section("a")], title=long_title)),
        "invalid_blocks",
    )
    assert any("title" in e for e in error.response["errors"])
    assert error.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    [violation] = standin.violations
    assert violation.method == "views.open"
    assert violation.error == "invalid_blocks"
    assert any("[json-pointer:/view/title/text]" in e for e in violation.errors)
    assert standin.views == {}


async def test_101_block_modal_is_refused(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    blocks = [section(f"row-{i}") for i in range(101)]
    error = await expect_error(
        client.views_open(trigger_id="t", view=modal_dict(blocks)), "invalid_blocks"
    )
    assert any(
        "[rule:modal.blocks]" in e and "[json-pointer:/view/blocks]" in e
        for e in error.response["errors"]
    ), error.response["errors"]
    assert [v.error for v in standin.violations] == ["invalid_blocks"]

    standin.clear()
    ok = await client.views_open(trigger_id="t2", view=modal_dict(blocks[:100]))
    assert len(ok["view"]["blocks"]) == 100
    assert standin.violations == []


async def test_missing_block_id_is_refused(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    error = await expect_error(
        client.views_open(trigger_id="t", view=modal_dict([section("a"), section(None)])),
        "invalid_blocks",
    )
    assert error.response["errors"] == [
        "app contract: every block needs a stable block_id [json-pointer:/view/blocks/1]"
    ]
    assert len(standin.violations) == 1


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        pytest.param(
            {**section("a"), "colour": "red"},
            "invalid additional property: colour [json-pointer:/view/blocks/0]",
            id="unknown-block-attribute",
        ),
        pytest.param(
            {
                "type": "actions",
                "block_id": "a",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "x": 1}
                ],
            },
            "invalid additional property: x [json-pointer:/view/blocks/0/elements/0]",
            id="unknown-element-attribute",
        ),
        pytest.param(
            {"type": "sparkles", "block_id": "a"},
            "unknown block type 'sparkles'",
            id="unknown-block-type",
        ),
        pytest.param(
            {
                "type": "context",
                "block_id": "a",
                "elements": [{"type": "mrkdwn", "text": "ok"}, {"type": "gif"}],
            },
            "[json-pointer:/view/blocks/0/elements/1]",
            id="unknown-element-type",
        ),
        pytest.param(
            {"type": "section", "block_id": "a", "text": "plain string"},
            "expected an object, got str [json-pointer:/view/blocks/0/text]",
            id="string-instead-of-text-object",
        ),
        pytest.param(
            {
                "type": "actions",
                "block_id": "a",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"}}],
            },
            "app contract: interactive element 'button' needs an action_id",
            id="missing-action-id",
        ),
        pytest.param(
            {
                "type": "input",
                "block_id": "a",
                "dispatch_action": True,
                "label": {"type": "plain_text", "text": "File"},
                "element": {"type": "file_input", "action_id": "f"},
            },
            "dispatch_action is not supported by element 'file_input'",
            id="dispatch-action-on-file-input",
        ),
    ],
)
async def test_block_kit_contract_violations(
    standin: SlackApiStandIn, block: dict[str, Any], expected: str
) -> None:
    client = client_for(standin)
    view = modal_dict([block])
    view["submit"] = {"type": "plain_text", "text": "Save"}
    error = await expect_error(client.views_open(trigger_id="t", view=view), "invalid_blocks")
    assert any(expected in e for e in error.response["errors"]), error.response["errors"]
    assert len(standin.violations) == 1


def test_validate_view_accepts_what_the_handlers_build() -> None:
    """The validator is usable without a server, e.g. in view-builder unit tests."""
    assert validate_view(add_modal().to_dict()) == []
    duplicate = modal_dict([section("same"), section("same")])
    assert validate_view(duplicate) == [
        "duplicate block_id 'same' (also at /view/blocks/0) [rule:block.block_id_unique] "
        "[json-pointer:/view/blocks/1]"
    ]
    needs_submit = {
        **modal_dict([]),
        "blocks": [add_modal().to_dict()["blocks"][0]],
    }
    assert validate_view(needs_submit) == [
        "a modal with input blocks needs a submit button [rule:modal.submit_with_inputs] "
        "[json-pointer:/view/submit]"
    ]


async def test_view_sent_as_form_field_json_is_validated(standin: SlackApiStandIn) -> None:
    """slack_sdk sends some methods form-encoded, with the view as a JSON string."""
    form = {"trigger_id": "t-form", "view": json.dumps(add_modal().to_dict())}
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            standin.base_url + "views.open",
            data=form,
            headers={"Authorization": f"Bearer {standin.bot_token}"},
        )
    assert answer.json()["ok"] is True
    [call] = standin.calls_to("views.open")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["view"]["callback_id"] == "repo_add"


# -- messages ----------------------------------------------------------------


async def test_messages_post_update_and_limits(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    posted = await client.chat_postMessage(
        channel="C1", text="Registry down", blocks=[SectionBlock(block_id="s", text="*down*")]
    )
    assert posted["channel"] == "C1"
    assert posted["ts"]
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="Registry back")
    assert updated["ts"] == posted["ts"]
    assert standin.messages[0]["text"] == "Registry back"
    await expect_error(client.chat_update(channel="C1", ts="1.0", text="x"), "message_not_found")

    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="Only you")
    assert ephemeral["message_ts"]
    assert standin.ephemeral_messages[0]["user"] == "U1"

    await expect_error(
        client.chat_postMessage(
            channel="C1", text="t", blocks=[section(f"b{i}") for i in range(51)]
        ),
        "invalid_blocks",
    )
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too; Slack refuses
        await expect_error(client.chat_postMessage(channel="C1"), "no_text")
    assert [v.error for v in standin.violations] == ["invalid_blocks", "no_text"]


async def test_users_and_channels_are_configurable(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    standin.set_user("UADMIN", is_admin=True)
    standin.set_user("UOWNER", is_owner=True)
    standin.set_user("UGONE", exists=False)
    assert (await client.users_info(user="U1"))["user"]["is_admin"] is False
    assert (await client.users_info(user="UADMIN"))["user"]["is_admin"] is True
    owner = (await client.users_info(user="UOWNER"))["user"]
    assert owner["is_owner"] is True
    assert owner["is_admin"] is True  # Slack reports owners as admins too
    await expect_error(client.users_info(user="UGONE"), "user_not_found")

    standin.set_channel("C9", name="platform", is_private=True)
    channel = (await client.conversations_info(channel="C9"))["channel"]
    assert (channel["name"], channel["is_private"]) == ("platform", True)
    auth = await client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T1", "UBOT", "BBOT")


async def test_bad_token_and_unknown_method(standin: SlackApiStandIn) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=standin.base_url, retry_handlers=[])
    await expect_error(wrong.auth_test(), "invalid_auth")
    await expect_error(client_for(standin).api_call("files.upload"), "unknown_method")
    assert [(v.method, v.error) for v in standin.violations] == [
        ("auth.test", "invalid_auth"),
        ("files.upload", "unknown_method"),
    ]


# -- faults --------------------------------------------------------------------


async def test_ratelimited_with_retry_after_is_honoured_by_the_retry_handler(
    standin: SlackApiStandIn,
) -> None:
    standin.rate_limit_next("chat.postMessage", retry_after=1)
    client = client_for(
        standin, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )

    started = time.monotonic()
    answer = await client.chat_postMessage(channel="C1", text="hello")
    elapsed = time.monotonic() - started

    assert answer["ok"] is True
    first, second = standin.calls_to("chat.postMessage")
    assert (first.status, first.error) == (429, "ratelimited")
    assert (second.status, second.ok) == (200, True)
    assert second.at - first.at >= 1.0
    assert elapsed >= 1.0
    assert standin.violations == []


async def test_ratelimited_without_retry_handler_shows_retry_after(
    standin: SlackApiStandIn,
) -> None:
    standin.rate_limit_next("views.update", retry_after=7)
    error = await expect_error(
        client_for(standin).views_update(view_id="V1", view=add_modal()), "ratelimited"
    )
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] in ("7", ["7"])


async def test_fail_next_fails_exactly_n_times(standin: SlackApiStandIn) -> None:
    client = client_for(standin)
    standin.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        await expect_error(client.chat_postMessage(channel="C1", text="x"), "channel_not_found")
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"] is True
    assert standin.violations == []  # injected faults are not the bot's fault


async def test_down_refuses_connections_until_back_up(standin: SlackApiStandIn) -> None:
    port = standin.port
    standin.set_down(True)
    with pytest.raises(aiohttp.ClientConnectorError):
        await client_for(standin).auth_test()

    retrying = client_for(
        standin,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(
                max_retry_count=5,
                interval_calculator=FixedValueRetryIntervalCalculator(0.2),
            )
        ],
    )
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, standin.set_down, False)
    answer = await retrying.auth_test()
    assert answer["ok"] is True
    assert standin.port == port  # same URL before and after the outage
    assert len(standin.calls_to("auth.test")) == 1  # refused attempts never arrived


async def test_down_as_http_503_is_retried_by_the_server_error_handler(
    standin: SlackApiStandIn,
) -> None:
    standin.set_down(True, mode="http_503")
    client = client_for(
        standin,
        retry_handlers=[
            AsyncServerErrorRetryHandler(
                max_retry_count=5,
                interval_calculator=FixedValueRetryIntervalCalculator(0.2),
            )
        ],
    )
    asyncio.get_running_loop().call_later(0.3, standin.set_down, False)
    assert (await client.auth_test())["ok"] is True
    statuses = [call.status for call in standin.calls_to("auth.test")]
    assert statuses[0] == 503
    assert statuses[-1] == 200


# -- waiting and recording -------------------------------------------------------


async def test_wait_for_is_bounded_and_explains_what_arrived(standin: SlackApiStandIn) -> None:
    await client_for(standin).auth_test()
    with pytest.raises(AssertionError, match=r"views\.open.*calls so far: \['auth\.test'\]"):
        await standin.wait_for_async("views.open", timeout=0.2)
    with pytest.raises(AssertionError, match="expected 2 call"):
        standin.wait_for("auth.test", count=2, timeout=0.2)
    assert len(standin.wait_for("auth.test")) == 1


async def test_wait_for_async_sees_calls_made_meanwhile(standin: SlackApiStandIn) -> None:
    client = client_for(standin)

    async def later() -> None:
        await asyncio.sleep(0.1)
        await client.chat_postMessage(channel="C1", text="done")

    task = asyncio.create_task(later())
    [call] = await standin.wait_for_async("chat.postMessage", timeout=5)
    await task
    assert call.params["text"] == "done"


async def test_response_url_posts_are_recorded(standin: SlackApiStandIn) -> None:
    url = standin.new_response_url()
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, json={"text": "Saved", "response_type": "ephemeral"})
    assert answer.status_code == 200
    [call] = standin.calls_to("response_url")
    assert call.params["text"] == "Saved"


def test_stop_releases_the_port() -> None:
    api = SlackApiStandIn().start()
    base_url = api.base_url
    api.stop()
    api.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.post(base_url + "auth.test", timeout=2)
