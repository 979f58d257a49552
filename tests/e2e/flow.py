"""A user's side of the conversation: commands, clicks and submits, and what comes back."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest

from bot import outbox
from storage.db import create_engine, session_factory
from tests.support.bot_process import BotProcess
from tests.support.slack_api import RecordedCall, SlackApiStandIn
from tests.support.slack_requests import (
    SlackClient,
    button_action,
    find_button,
    find_input,
    overflow_action,
    static_select_action,
)

JsonDict = dict[str, Any]
T = TypeVar("T")


def texts(blocks_or_view: Any) -> str:
    """Every piece of text in a view or a list of blocks, for `in` assertions."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks_or_view.get("blocks") if isinstance(blocks_or_view, dict) else blocks_or_view)
    return "\n".join(out)


def labels(view: Mapping[str, Any]) -> list[str]:
    return [b["label"]["text"] for b in view.get("blocks", []) if b.get("type") == "input"]


class Flow:
    def __init__(
        self,
        client: SlackClient,
        standin: SlackApiStandIn,
        bot: BotProcess,
        channel_id: str,
        database_url: str,
    ) -> None:
        self.client = client
        self.standin = standin
        self.bot = bot
        self.channel_id = channel_id
        self.database_url = database_url
        self.seen: Counter[str] = Counter()

    # -- waiting for the bot's Web API calls --------------------------------

    async def next_call(self, method: str, timeout: float = 15.0) -> RecordedCall:
        """The next call to `method` this flow has not looked at yet."""
        self.seen[method] += 1
        calls = await self.standin.wait_for_async(method, self.seen[method], timeout)
        return calls[self.seen[method] - 1]

    def skip_seen(self, method: str) -> None:
        self.seen[method] = len(self.standin.calls_to(method))

    async def next_response(self, timeout: float = 15.0) -> RecordedCall:
        return await self.next_call("response_url", timeout)

    async def next_update(self, timeout: float = 15.0) -> JsonDict:
        call = await self.next_call("views.update", timeout)
        assert call.ok, call.response
        return dict(call.response["view"])

    async def until_update(
        self, predicate: Callable[[JsonDict], bool], timeout: float = 30.0
    ) -> JsonDict:
        """Skip views.update calls until one shows what `predicate` looks for."""
        deadline = time.monotonic() + timeout
        while True:
            view = await self.next_update(max(deadline - time.monotonic(), 0.1))
            if predicate(view):
                return view

    # -- acting --------------------------------------------------------------

    async def command(self, text: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.command(text, **kwargs)
        assert response.status_code == 200, response.text
        assert response.elapsed.total_seconds() < 3, "Slack needs the ack within 3 s"
        return response

    async def command_reply(self, text: str, timeout: float = 15.0, **kwargs: Any) -> str:
        """Run a command whose answer comes through response_url; return that text.

        The answer is the first message posted to this command's own response_url: a late
        answer to an earlier command (a retry that outlived its test) is passed over."""
        url = kwargs.pop("response_url", None) or self.standin.new_response_url()
        await self.command(text, response_url=url, **kwargs)
        path = urlsplit(url).path
        deadline = time.monotonic() + timeout
        while True:
            answers = self.standin.calls_to("response_url")
            mine = [i for i, call in enumerate(answers) if call.path == path]
            if mine:
                break
            assert time.monotonic() < deadline, f"no answer to /imagerepo {text} in {timeout} s"
            await asyncio.sleep(0.05)
        self.seen["response_url"] = max(self.seen["response_url"], mine[0] + 1)
        call = answers[mine[0]]
        return str(call.params.get("text", "")) + "\n" + texts(call.params.get("blocks") or [])

    async def open_modal(self, text: str = "add", **kwargs: Any) -> JsonDict:
        await self.command(text, **kwargs)
        call = await self.next_call("views.open")
        assert call.ok, call.response
        return dict(call.response["view"])

    async def choose(self, view: JsonDict, label: str, value: str, **kwargs: Any) -> JsonDict:
        """Choose in a dispatching select/radio of a modal; return the reshaped modal.

        Choosing what is already chosen changes nothing (the modal stays as it is), so a
        test does not depend on which default an earlier test left (a registered tool
        makes Harbor the default type)."""
        ref = find_input(view, label)
        if (ref.element.get("initial_option") or {}).get("value") == value:
            return view
        if ref.element.get("type") == "radio_buttons":
            from tests.support.slack_requests import radio_buttons_action

            action = radio_buttons_action(ref.action_id, ref.block_id, value)
        else:
            action = static_select_action(ref.action_id, ref.block_id, value)
        response = await self.client.action([action], view=view, **kwargs)
        assert response.status_code == 200
        return await self.next_update()

    async def click(
        self, view: JsonDict, button: str, values: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        ref = find_button(view, button)
        response = await self.client.action(
            [
                button_action(
                    ref.action_id, ref.block_id, value=ref.element.get("value"), text=button
                )
            ],
            view=view,
            values=values,
            **kwargs,
        )
        assert response.status_code == 200
        return response

    async def submit(self, view: JsonDict, values: Mapping[str, Any], **kwargs: Any) -> JsonDict:
        """Submit; returns the HTTP answer's JSON ({} for a plain ack)."""
        response = await self.client.submit(view, values, **kwargs)
        assert response.status_code == 200, response.text
        assert response.elapsed.total_seconds() < 3, "Slack needs the ack within 3 s"
        return dict(response.json()) if response.content.strip() else {}

    async def menu(
        self,
        blocks: list[JsonDict],
        repository: str,
        option: str,
        *,
        view: JsonDict | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Choose `option` in the overflow menu of the list row showing `repository`."""
        for block in blocks:
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "overflow" and f"`{repository}`" in block["text"]["text"]:
                chosen = next(o for o in accessory["options"] if o["text"]["text"] == option)
                action = overflow_action(
                    accessory["action_id"], block["block_id"], chosen["value"], text=option
                )
                if view is not None:
                    response = await self.client.action([action], view=view, **kwargs)
                else:
                    kwargs.setdefault("message", {"type": "message", "ts": "1.1", "blocks": blocks})
                    response = await self.client.action([action], **kwargs)
                assert response.status_code == 200
                return response
        raise AssertionError(f"no row for {repository!r} in {texts(blocks)!r}")

    async def list_blocks(self, **kwargs: Any) -> list[JsonDict]:
        await self.command("list", **kwargs)
        call = await self.next_response()
        return list(call.params.get("blocks") or [])

    # -- the database, read through storage functions ---------------------------

    async def db(self, work: Callable[[Any], Awaitable[T]]) -> T:
        engine = create_engine(self.database_url)
        try:
            async with session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    async def nothing_unsent(self) -> bool:
        """Every queued channel message was sent: nothing more can reach the channel (the
        outbox is the only way there), so no fixed sleep is needed to prove it."""
        return await self.db(outbox.pending_count) == 0

    async def project_id(self) -> int:
        from storage import projects

        async def get(session: Any) -> int:
            project = await projects.get_by_channel(session, "T1", self.channel_id)
            assert project is not None
            return int(project.id)

        return await self.db(get)

    async def repositories(self) -> list[Any]:
        from storage import repositories

        project_id = await self.project_id()

        async def rows(session: Any) -> list[Any]:
            found, _ = await repositories.list_page(session, project_id, offset=0, limit=1000)
            return found

        return await self.db(rows)

    async def create_project(self, name: str, **kwargs: Any) -> None:
        reply = await self.command_reply(f"project create {name}", **kwargs)
        assert "is its admin" in reply, reply

    async def tool_grants(self, tool: str, admin: str = "UWSADMIN") -> JsonDict:
        """Open the Grants modal of the registered tool named `tool`, as a workspace admin
        (from `/imagerepo tools`, the tool row's menu)."""
        from tests.support.slack_requests import overflow_action

        self.standin.set_user(admin, is_admin=True)
        await self.command("tools", user_id=admin)
        blocks = (await self.next_response()).params["blocks"]
        row = next(
            b
            for b in blocks
            if b.get("block_id", "").startswith("tool_")
            and b.get("accessory")
            and f"*{tool}*" in b["text"]["text"]
        )
        menu = row["accessory"]
        value = next(o["value"] for o in menu["options"] if o["text"]["text"] == "Grants")
        await self.client.action(
            [overflow_action(menu["action_id"], row["block_id"], value, text="Grants")],
            user_id=admin,
        )
        call = await self.next_call("views.open")
        assert call.ok, call.response
        return dict(call.response["view"])

    async def grant(
        self, tool: str, project: str, namespace: str, admin: str = "UWSADMIN"
    ) -> JsonDict:
        """A workspace admin grants `tool`'s own account to `project` for `namespace`, the
        way a person does it (tools list -> Grants -> Add grant); returns the updated modal.
        Since issue 18 a tool's account is spent only inside such a grant."""
        from tests.support.slack_requests import plain_text_value, values_by_label

        view = await self.tool_grants(tool, admin)
        values = values_by_label(
            view,
            {"Project": plain_text_value(project), "Namespace": plain_text_value(namespace)},
        )
        answer = await self.submit(view, values, user_id=admin)
        assert answer.get("response_action") == "update", answer
        assert f"Granted to *{project}*" in texts(answer["view"]), texts(answer["view"])
        # `response_action: update` replaces the open view: same id, new content.
        return {**view, **answer["view"], "id": view.get("id")}


def bot_process(
    standin: SlackApiStandIn,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: dict[str, str] | None = None,
) -> BotProcess:
    log_dir = tmp_path_factory.mktemp("bot")
    return BotProcess(
        slack_api_url=standin.base_url,
        bot_token=standin.bot_token,
        database_url=database_url,
        log_path=Path(log_dir) / "bot.log",
        extra_env=extra_env,
    )
