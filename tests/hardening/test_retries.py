"""Slack's retries and double clicks: the same submission arriving twice at once, and
once more with X-Slack-Retry-Num, adds one repository and deletes it once, with one
channel message each."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import add_values
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import checkboxes_value, values_by_label, view_submission
from tests.support.waiting import wait_until

pytestmark = pytest.mark.registry

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))
RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


async def twice_then_retry(flow: Flow, view: dict[str, Any], values: dict[str, Any]) -> list[Any]:
    """A double click (two identical submissions at once), then Slack's retry of it."""
    body = view_submission(view, values, user_id="U1")
    first = await asyncio.gather(flow.client.post(body), flow.client.post(body))
    retried = await flow.client.post(body, headers=RETRY)
    answers = [*first, retried]
    assert [a.status_code for a in answers] == [200, 200, 200]
    return answers


def channel_messages(standin: SlackApiStandIn, channel: str, words: str) -> list[str]:
    return [
        str(c.params.get("text", ""))
        for c in standin.calls_to("chat.postMessage")
        if c.ok and c.params.get("channel") == channel and words in str(c.params.get("text"))
    ]


async def test_a_double_submitted_and_retried_add_saves_once_and_tells_once(
    flow: Flow, registry: RegistryServer, standin: SlackApiStandIn, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    registry.client(USER, PASSWORD).push_image("twice/app")
    await flow.create_project("retry-add")
    view = await flow.open_modal("add")
    values = add_values(
        view, url=registry.url, repository="twice/app", username=USER, password=PASSWORD
    )
    await twice_then_retry(flow, view, values)

    async def settled() -> bool:
        updates = [texts(c.params.get("view", {})) for c in standin.calls_to("views.update")]
        done = [t for t in updates if "Saved the app" in t or "Not saved" in t]
        # one saves; the other two (the double click's twin and Slack's retry) say why not.
        # Waiting for all three keeps the last one from landing in the next test.
        return len(done) >= 3

    await wait_until(settled, "settled", timeout=30)
    await wait_until(flow.nothing_unsent, "nothing left unsent", timeout=15)
    rows = await flow.repositories()
    assert [r.repository for r in rows] == ["twice/app"]
    assert len(channel_messages(standin, flow.channel_id, "twice/app")) == 1
    refusals = [
        texts(c.params.get("view", {}))
        for c in standin.calls_to("views.update")
        if "Not saved" in texts(c.params.get("view", {}))
    ]
    assert all("already" in t for t in refusals), refusals


async def test_a_double_submitted_and_retried_delete_deletes_once_and_tells_once(
    flow: Flow, registry: RegistryServer, standin: SlackApiStandIn, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    registry.client(USER, PASSWORD).push_image("twice/gone")
    registry.client(USER, PASSWORD).push_image("twice/stays")
    await flow.create_project("retry-delete")
    for repository in ("twice/gone", "twice/stays"):
        view = await flow.open_modal("add")
        values = add_values(
            view, url=registry.url, repository=repository, username=USER, password=PASSWORD
        )
        await flow.submit(view, values)
        saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
        assert "Saved the app repository" in texts(saved)
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "twice/gone", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    unticked = values_by_label(view, {"Image registry": checkboxes_value()})
    await twice_then_retry(flow, view, unticked)

    async def gone() -> bool:
        return [r.repository for r in await flow.repositories()] == ["twice/stays"]

    await wait_until(gone, "gone", timeout=20)
    await wait_until(flow.nothing_unsent, "nothing left unsent", timeout=15)
    deleted = [m for m in channel_messages(standin, flow.channel_id, "twice/gone") if "elete" in m]
    assert len(deleted) == 1, deleted
    assert [r.repository for r in await flow.repositories()] == ["twice/stays"]
    assert registry.client(USER, PASSWORD).tags("twice/gone") == ["latest"]
