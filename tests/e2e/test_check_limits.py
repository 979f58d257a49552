"""`/imagerepo check` is bounded (issue 18, item 8), through signed requests to the real
server: 30 at once by one member run one pass (one connection test per entry, not 30),
the others join it or are told when they may start one again; a second member may start
their own; who started each pass (and who was refused) is in the audit trail."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import add_values
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_requests import find_input

pytestmark = pytest.mark.registry

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))
STARTED = "Testing every repository of *limits*"
JOINED = "is running: its summary follows"
TOO_SOON = "you can start another in"


async def add_entry(flow: Flow, registry: RegistryServer, repository: str) -> int:
    registry.client(USER, PASSWORD).push_image(repository)
    view = await flow.open_modal("add")
    if find_input(view, "Repository type").element["initial_option"]["value"] != "registry":
        view = await flow.choose(view, "Repository type", "registry")
    values = add_values(
        view, url=registry.url, repository=repository, username=USER, password=PASSWORD
    )
    await flow.submit(view, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository" in texts(saved), texts(saved)
    return int(next(r for r in await flow.repositories() if r.repository == repository).id)


async def checks_of(flow: Flow, repository_id: int) -> int:
    from storage import repositories

    async def read(session: Any) -> int:
        return len(await repositories.history(session, repository_id, limit=1000))

    return await flow.db(read)


def replies(flow: Flow, urls: set[str]) -> list[str]:
    """What the bot posted to these response_urls."""
    paths = {urlsplit(url).path for url in urls}
    return [
        str(c.params.get("text", ""))
        for c in flow.standin.calls_to("response_url")
        if urlsplit(c.path).path in paths
    ]


async def test_thirty_checks_at_once_run_one_pass_and_each_start_is_audited(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("limits")
    entry = await add_entry(flow, registry, "limits/app")
    before = await checks_of(flow, entry)

    urls = [flow.standin.new_response_url() for _ in range(30)]
    answers = await asyncio.gather(
        *(flow.client.command("check", response_url=url) for url in urls)
    )
    assert all(a.status_code == 200 for a in answers)

    # Every request is answered: one started the pass, the rest joined it or were told
    # when they may start one again; each start or join also gets the summary.
    deadline = time.monotonic() + 30
    while True:
        said = replies(flow, set(urls))
        started = [t for t in said if STARTED in t]
        joined = [t for t in said if JOINED in t]
        refused = [t for t in said if TOO_SOON in t]
        summaries = [t for t in said if "The connection passed." in t]
        if len(started) + len(joined) + len(refused) == 30 and len(summaries) == len(started) + len(
            joined
        ):
            break
        assert time.monotonic() < deadline, said
        await asyncio.sleep(0.1)
    assert len(started) == 1, said
    assert await checks_of(flow, entry) == before + 1  # one test of the entry, not 30

    flow.skip_seen("response_url")  # those answers were read above
    # Once more by the same member: refused, saying when; nothing is tested.
    again = await flow.command_reply("check")
    assert TOO_SOON in again and "seconds ago" in again, again
    assert await checks_of(flow, entry) == before + 1
    # Another member may start their own pass.
    other = await flow.command_reply("check", user_id="U2")
    assert STARTED in other, other
    assert "The connection passed." in str((await flow.next_response()).params["text"])
    assert await checks_of(flow, entry) == before + 2

    # The trail says who started each pass, and the refusal.
    trail = await flow.command_reply("audit")
    assert trail.count("*check*") >= 3, trail
    assert "<@U2>" in trail and "refused (rate_limited)" in trail, trail
