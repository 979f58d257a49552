"""Every flow with recognisable passwords, then a search for them everywhere they must
not be: the database files' bytes, the bot's whole log, every Web API call it made
(and Slack's answers), and every HTTP answer it gave. Zero hits."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import account_values, add_values
from tests.e2e.test_harbor_tools import tool_values
from tests.support.bot_process import BotProcess
from tests.support.databases import sqlite_url
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_server import RegistryServer, skip_or_fail_without_registry
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import (
    SlackClient,
    button_action,
    checkboxes_value,
    overflow_action,
    values_by_label,
)

pytestmark = pytest.mark.registry

REGISTRY_PASS = "Recognisable-Registry-Pass-4Qz"
SECOND_PASS = "Recognisable-Second-Pass-6Lp"
TYPO_PASS = "Recognisable-Typo-Pass-2Jx"
HARBOR_PASS = "Recognisable-Harbor-Pass-8Kw"
HARBOR_TYPO = "Recognisable-Harbor-Typo-5Mn"
USERS = {"carol": REGISTRY_PASS, "dave": SECOND_PASS}
ADMIN = "UWSADMIN"
CHANNEL = "CSECRETS"


def needles() -> list[bytes]:
    """The passwords, and the forms they travel in (Basic credentials)."""
    plain = [REGISTRY_PASS, SECOND_PASS, TYPO_PASS, HARBOR_PASS, HARBOR_TYPO]
    basic = [
        base64.b64encode(f"{user}:{password}".encode())
        for user, password in [*USERS.items(), ("carol", TYPO_PASS), ("hbadmin", HARBOR_PASS)]
    ]
    return [p.encode() for p in plain] + basic


@pytest.fixture(scope="module")
def own_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    skip_or_fail_without_registry()
    with RegistryServer(Path(tmp_path_factory.mktemp("registry")), htpasswd=USERS) as server:
        yield server


@pytest.fixture(scope="module")
def harbor() -> Iterator[HarborStandIn]:
    server = HarborStandIn()
    server.add_user("hbadmin", HARBOR_PASS, sysadmin=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_no_password_is_stored_logged_sent_to_slack_or_answered(
    standin: SlackApiStandIn,
    own_registry: RegistryServer,
    harbor: HarborStandIn,
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = sqlite_url(data)
    own_registry.client("carol", REGISTRY_PASS).push_image("sec/app")
    own_registry.client("carol", REGISTRY_PASS).push_image("sec/pull")
    standin.set_user(ADMIN, is_admin=True)
    standin.clear()
    answers: list[bytes] = []

    async def keep(response: httpx.Response) -> None:
        answers.append(await response.aread())

    process = BotProcess(
        slack_api_url=standin.base_url,
        bot_token=standin.bot_token,
        database_url=url,
        log_path=tmp_path / "bot.log",
    ).start()
    client = SlackClient(
        process.events_url, process.signing_secret, standin=standin, channel_id=CHANNEL
    )
    client._http.event_hooks["response"].append(keep)
    flow = Flow(client, standin, process, CHANNEL, url)
    try:
        snapshots: list[bytes] = []
        await run_every_flow(flow, own_registry, harbor, lambda: snapshots.append(files(data)))
        for path in ("/healthz", "/metrics"):
            answers.append(httpx.get(process.base_url + path, timeout=5).content)
    finally:
        await client.aclose()
        process.stop()

    assert len(answers) >= 25  # every request of the flows above was answered and kept
    places: dict[str, bytes] = {
        "the bot's log": process.log_path.read_bytes(),
        "the Web API calls": json.dumps(
            [[c.params, c.response, c.headers] for c in standin.calls]
        ).encode(),
        "the HTTP answers": b"\n".join(answers),
    }
    # The database, its WAL and shared memory and the key file: while the entries and the
    # tool were stored (their ciphertexts are there), and after everything was deleted.
    (while_stored,) = snapshots
    assert while_stored.count(b"gAAAAA") >= 2  # Fernet tokens: the passwords, encrypted
    places["the database files while stored"] = while_stored
    places["the database files at the end"] = files(data)

    found = [
        (needle.decode()[:14] + "...", where)
        for needle in needles()
        for where, content in places.items()
        if needle in content
    ]
    assert found == []
    assert standin.violations == []


def files(directory: Path) -> bytes:
    found = sorted(p for p in directory.iterdir() if p.is_file())
    assert any(p.name == "imagerepo.db" for p in found)
    return b"\n".join(p.read_bytes() for p in found)


async def run_every_flow(
    flow: Flow, registry: RegistryServer, harbor: HarborStandIn, snapshot: Callable[[], None]
) -> None:
    await flow.create_project("secrets")

    # Add: URL Check, a failing then a passing Connection Test, Save.
    view = await flow.open_modal("add")
    await flow.click(view, "URL Check", add_values(view, url=registry.url))
    await flow.next_update()
    view = await flow.next_update()
    typo = add_values(
        view, url=registry.url, repository="sec/app", username="carol", password=TYPO_PASS
    )
    await flow.click(view, "Connection Test", typo)
    await flow.next_update()
    view = await flow.next_update()
    assert "Connection test failed" in texts(view)
    good = add_values(
        view, url=registry.url, repository="sec/app", username="carol", password=REGISTRY_PASS
    )
    await flow.click(view, "Connection Test", good)
    await flow.next_update()
    view = await flow.next_update()
    assert "Connection test passed" in texts(view)
    answer = await flow.submit(view, good)
    assert "Saved the app repository" in texts(answer["view"])

    # Add pull-only, saved straight away (tested on Save).
    view = await flow.open_modal("add-pull")
    await flow.submit(
        view,
        add_values(
            view, url=registry.url, repository="sec/pull", username="carol", password=REGISTRY_PASS
        ),
    )
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the pull-only repository" in texts(saved), texts(saved)

    # Connection Test from the list.
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "sec/app", "Connection Test")
    await flow.next_call("views.open")
    assert "Connection test passed" in texts(await flow.next_update())
    await flow.next_response()

    # Change account: a typo (refused), then another account.
    await flow.menu(blocks, "sec/app", "Change account")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, account_values(view, "carol", TYPO_PASS))
    view = await flow.next_update()
    assert "not changed" in texts(view)
    await flow.submit(view, account_values(view, "dave", SECOND_PASS))
    assert "is now *dave*" in texts(await flow.next_update())

    snapshot()

    # Re-check everything now.
    await flow.command("check")
    await flow.next_response()
    assert "passed" in str((await flow.next_response()).params.get("text"))

    # Delete: one in the registry too, one from the list only.
    await flow.menu(blocks, "sec/app", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(
        view, values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    )
    assert "and in the image registry" in texts(await flow.next_update())
    await flow.menu(blocks, "sec/pull", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, values_by_label(view, {"Image registry": checkboxes_value()}))
    assert "Deleted" in texts(await flow.next_update())
    assert await flow.repositories() == []

    await tools_flow(flow, harbor)


async def tools_flow(flow: Flow, harbor: HarborStandIn) -> None:
    """Register a Harbor instance (a typo first), test it, edit it, remove it."""
    await flow.command("tools", user_id=ADMIN)
    blocks = (await flow.next_response()).params["blocks"]
    register = next(b for b in blocks if b["block_id"] == "tools_actions")["elements"][0]
    await flow.client.action(
        [button_action(register["action_id"], "tools_actions", text="Register Harbor")],
        user_id=ADMIN,
        message={"type": "message", "ts": "1.3", "blocks": blocks},
    )
    view = dict((await flow.next_call("views.open")).response["view"])
    fields: dict[str, Any] = {"url": harbor.url, "username": "hbadmin"}
    await flow.submit(
        view, tool_values(view, name="hb", password=HARBOR_TYPO, **fields), user_id=ADMIN
    )
    view = await flow.next_update()
    assert "not registered" in texts(view), texts(view)
    await flow.submit(
        view, tool_values(view, name="hb", password=HARBOR_PASS, **fields), user_id=ADMIN
    )
    assert "Registered *hb*" in texts(await flow.next_update())

    await flow.command("tools", user_id=ADMIN)
    blocks = (await flow.next_response()).params["blocks"]
    row = next(b for b in blocks if b["block_id"].startswith("tool_") and b.get("accessory"))
    menu = row["accessory"]

    def choose(label: str) -> dict[str, Any]:
        value = next(o["value"] for o in menu["options"] if o["text"]["text"] == label)
        return overflow_action(menu["action_id"], row["block_id"], value, text=label)

    message = {"type": "message", "ts": "1.4", "blocks": blocks}
    await flow.client.action([choose("Connection Test")], user_id=ADMIN, message=message)
    await flow.next_call("views.open")
    assert "passed" in texts(await flow.next_update())
    await flow.client.action([choose("Edit")], user_id=ADMIN, message=message)
    edit = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(edit, tool_values(edit, name="hb-renamed", **fields), user_id=ADMIN)
    assert "Saved *hb-renamed*" in texts(await flow.next_update())
    await flow.client.action([choose("Remove")], user_id=ADMIN, message=message)
    remove = dict((await flow.next_call("views.open")).response["view"])
    answer = await flow.submit(remove, {}, user_id=ADMIN)
    assert "Removed the registered tool" in texts(answer["view"])
