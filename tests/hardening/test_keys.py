"""A key missing from IMAGEREPO_SECRET_KEYS: the bot restarted with another key still
serves, tells the user exactly which secret it cannot decrypt, and overwrites nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from storage.models import ImageRepository
from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import add_values
from tests.support.bot_process import BotProcess
from tests.support.databases import sqlite_url
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import SlackClient, checkboxes_value, values_by_label

pytestmark = pytest.mark.registry

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))
CHANNEL = "CKEYS"


@pytest.fixture
async def two_keys(tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    yield sqlite_url(tmp_path), Fernet.generate_key().decode(), Fernet.generate_key().decode()


def started(standin: SlackApiStandIn, url: str, key: str, log: Path) -> BotProcess:
    return BotProcess(
        slack_api_url=standin.base_url,
        bot_token=standin.bot_token,
        database_url=url,
        log_path=log,
        secret_keys=key,
    ).start()


async def ciphertexts(flow: Flow) -> list[tuple[int, str | None]]:
    async def read(session: Any) -> list[tuple[int, str | None]]:
        rows = await session.execute(
            select(ImageRepository.id, ImageRepository.secret_ciphertext).order_by(
                ImageRepository.id
            )
        )
        return [tuple(r) for r in rows]

    return await flow.db(read)


async def test_a_missing_key_is_named_to_the_user_and_nothing_is_overwritten(
    standin: SlackApiStandIn,
    registry: RegistryServer,
    two_keys: tuple[str, str, str],
    tmp_path: Path,
) -> None:
    url, old_key, new_key = two_keys
    registry.client(USER, PASSWORD).push_image("keys/app")

    first = started(standin, url, old_key, tmp_path / "first.log")
    client = SlackClient(
        first.events_url, first.signing_secret, standin=standin, channel_id=CHANNEL
    )
    flow = Flow(client, standin, first, CHANNEL, url)
    for method in ("views.open", "views.update", "response_url", "chat.postMessage"):
        flow.skip_seen(method)
    try:
        await flow.create_project("keys")
        view = await flow.open_modal("add")
        values = add_values(
            view, url=registry.url, repository="keys/app", username=USER, password=PASSWORD
        )
        await flow.submit(view, values)
        saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
        assert "Saved the app repository" in texts(saved)
    finally:
        await client.aclose()
        first.stop()
    before = await ciphertexts(flow)
    ((repository_id, _),) = before

    # Restarted with another key only: the old one was dropped before rotate-keys ran.
    second = started(standin, url, new_key, tmp_path / "second.log")
    client = SlackClient(
        second.events_url, second.signing_secret, standin=standin, channel_id=CHANNEL
    )
    flow = Flow(client, standin, second, CHANNEL, url)
    for method in ("views.open", "views.update", "response_url", "chat.postMessage"):
        flow.skip_seen(method)
    named = f"cannot decrypt the password of repository #{repository_id}"
    try:
        blocks = await flow.list_blocks()  # the list needs no secret
        assert "`keys/app`" in texts(blocks)

        # Connection Test from the list: the modal names what cannot be decrypted.
        await flow.menu(blocks, "keys/app", "Connection Test")
        await flow.next_call("views.open")
        result = await flow.next_update()
        assert named in texts(result), texts(result)
        assert "IMAGEREPO_SECRET_KEYS" in texts(result)

        refreshed = await flow.next_response()  # the list under the menu is refreshed
        assert "`keys/app`" in texts(refreshed.params.get("blocks") or [])

        # `/imagerepo check` says the same instead of going silent after "Testing…".
        assert "Testing every repository" in await flow.command_reply("check")
        reply = str((await flow.next_response()).params.get("text"))
        assert named in reply, reply

        # Delete in IR needs the password: the delete modal names the missing key before
        # the user confirms and offers no "also in the registry"; the entry is kept.
        await flow.menu(blocks, "keys/app", "Delete")
        delete_view = dict((await flow.next_call("views.open")).response["view"])
        assert named in texts(delete_view), texts(delete_view)
        with pytest.raises(AssertionError, match="no input labelled 'Image registry'"):
            values_by_label(delete_view, {"Image registry": checkboxes_value("also_in_registry")})
        assert [r.repository for r in await flow.repositories()] == ["keys/app"]

        assert await ciphertexts(flow) == before  # nothing re-encrypted or overwritten
        assert second.running
        assert "Traceback" not in second.log()
        assert registry.client(USER, PASSWORD).tags("keys/app") == ["latest"]
        second.assert_log_free_of([PASSWORD])
        first.assert_log_free_of([PASSWORD])
    finally:
        await client.aclose()
        second.stop()
