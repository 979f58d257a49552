"""Hostile requests with ids from elsewhere (security findings 5, 6 and 14 of issue 11).

Every request here is signed as Slack signs it: the sender is a member of the
workspace who replays a button or a menu of another channel's list, forges a
modal's private_metadata, or keeps a passing Connection Test past its time.
What must hold is what that user (and the other channel) would notice: a
refusal, no test run with someone else's saved credentials, nothing written.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from handlers import ids
from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import add_values
from tests.e2e.test_harbor_tools import ADMIN_PASSWORD, register_tool
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import button_action, find_input, overflow_action

pytestmark = pytest.mark.registry

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))
NOT_HERE = "That repository is no longer in this project's list."


async def open_add_registry(flow: Flow, **kwargs: Any) -> dict[str, Any]:
    """The add modal, for a plain registry: chosen, not the default, which is Harbor
    once a test of this module registered a Harbor tool."""
    view = await flow.open_modal("add", **kwargs)
    if find_input(view, "Repository type").element["initial_option"]["value"] == "registry":
        return view
    return await flow.choose(view, "Repository type", "registry", **kwargs)


async def add_repository(flow: Flow, registry: RegistryServer, repository: str) -> Any:
    """Channel A's project gets an entry (by U1, its admin); returns its database row."""
    registry.client(USER, PASSWORD).push_image(repository)
    view = await open_add_registry(flow)
    values = add_values(
        view, url=registry.url, repository=repository, username=USER, password=PASSWORD
    )
    await flow.submit(view, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository" in texts(saved), texts(saved)
    await flow.next_call("chat.postMessage")
    return next(r for r in await flow.repositories() if r.repository == repository)


async def history_of(flow: Flow, repository_id: int) -> list[Any]:
    from storage import repositories

    async def read(session: Any) -> list[Any]:
        return await repositories.history(session, repository_id, limit=100)

    return await flow.db(read)


async def other_channel(flow: Flow, name: str) -> str:
    """Channel B, with a project of its own, where user UB works."""
    channel = f"{flow.channel_id}B"
    await flow.command(f"project create {name}", user_id="UB", channel_id=channel)
    assert "is its admin" in (await flow.next_response()).params["text"]
    return channel


async def test_a_row_menu_replayed_in_another_channel_runs_no_test_and_opens_nothing(
    flow: Flow, registry: RegistryServer, secrets: list[str], standin: SlackApiStandIn
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("foreign-a")
    row = await add_repository(flow, registry, "foreign/app")
    before = await history_of(flow, row.id)
    channel_b = await other_channel(flow, "foreign-b")
    opened = len(standin.calls_to("views.open"))

    # UB, in channel B, sends channel A's row menu and alert button values.
    for kind in (ids.MENU_TEST, ids.MENU_ACCOUNT, ids.MENU_DELETE):
        menu = overflow_action(ids.A_ROW_MENU, f"repo_{row.id}", f"{kind}:{row.id}")
        await flow.client.action([menu], user_id="UB", channel_id=channel_b)
        refusal = await flow.next_response()
        assert refusal.params["text"] == NOT_HERE
    alert = button_action(ids.A_ALERT_TEST, "alert_actions", value=str(row.id))
    await flow.client.action([alert], user_id="UB", channel_id=channel_b)
    assert (await flow.next_response()).params["text"] == NOT_HERE

    # No Connection Test ran with channel A's saved account, nothing was written.
    assert len(standin.calls_to("views.open")) == opened
    assert len(await history_of(flow, row.id)) == len(before)
    after = next(r for r in await flow.repositories() if r.id == row.id)
    assert after.last_checked_at == row.last_checked_at
    assert after.secret_ciphertext == row.secret_ciphertext

    # The same menu from channel A itself still works.
    menu = overflow_action(ids.A_ROW_MENU, f"repo_{row.id}", f"{ids.MENU_TEST}:{row.id}")
    await flow.client.action([menu])
    await flow.next_call("views.open")
    assert "Connection test passed" in texts(await flow.next_update())
    refreshed = await flow.next_response()  # channel A's list, refreshed in place
    assert "`foreign/app`" in texts(refreshed.params["blocks"])
    assert len(await history_of(flow, row.id)) == len(before) + 1


async def test_a_home_menu_of_a_project_the_user_has_nothing_to_do_with_is_refused(
    flow: Flow, registry: RegistryServer, secrets: list[str], standin: SlackApiStandIn
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("foreign-home")
    row = await add_repository(flow, registry, "foreign/home")
    before = await history_of(flow, row.id)
    home = {"id": "VHOMEFOREIGN", "type": "home", "hash": "1.h", "blocks": []}
    menu = overflow_action(ids.A_ROW_MENU, f"repo_{row.id}", f"{ids.MENU_TEST}:{row.id}")
    await flow.client.action([menu], view=home, user_id="USTRANGER")
    refusal = await flow.next_call("views.open")
    assert texts(refusal.params["view"]) == NOT_HERE
    assert len(await history_of(flow, row.id)) == len(before)


async def test_previous_next_with_another_channels_project_id_is_refused(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("foreign-pages")
    await add_repository(flow, registry, "foreign/secret-name")
    project_a = await flow.project_id()
    channel_b = await other_channel(flow, "foreign-pages-b")

    nxt = button_action(f"{ids.A_PAGE}_next", "pager", value=f"{project_a}:1", text="Next")
    await flow.client.action([nxt], user_id="UB", channel_id=channel_b)
    answer = (await flow.next_response()).params
    assert answer["text"] == "That project no longer exists."
    assert "foreign/secret-name" not in json.dumps(answer)


async def test_forged_private_metadata_is_refused_and_saves_or_deletes_nothing(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("forged-meta")
    row = await add_repository(flow, registry, "forged/kept")
    channel_b = await other_channel(flow, "forged-meta-b")

    # UB opens the add modal in channel B, then edits its metadata to name channel A.
    view = await open_add_registry(flow, user_id="UB", channel_id=channel_b)
    meta = json.loads(view["private_metadata"])
    view["private_metadata"] = json.dumps({**meta, "channel_id": flow.channel_id})
    registry.client(USER, PASSWORD).push_image("forged/planted")
    values = add_values(
        view, url=registry.url, repository="forged/planted", username=USER, password=PASSWORD
    )
    answer = await flow.submit(view, values, user_id="UB")
    assert answer["response_action"] == "update"
    assert "did not come from this app" in texts(answer["view"])

    # A delete modal's metadata written by hand (no signature) names channel A's entry.
    forged = {
        "id": "VFORGEDDELETE",
        "type": "modal",
        "callback_id": ids.VIEW_DELETE,
        "private_metadata": json.dumps({"repository_id": row.id, "source": ""}),
        "blocks": [],
        "hash": "1.f",
    }
    answer = await flow.submit(forged, {}, user_id="U1")
    assert "did not come from this app" in texts(answer["view"])
    assert sorted(r.repository for r in await flow.repositories()) == ["forged/kept"]


async def test_a_passing_test_older_than_15_minutes_is_run_again_at_save(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    from handlers import metadata
    from storage.crypto import SecretBox

    secrets.append(PASSWORD)
    await flow.create_project("shortcut-ttl")
    registry.client(USER, PASSWORD).push_image("ttl/app")
    view = await open_add_registry(flow)
    values = add_values(
        view, url=registry.url, repository="ttl/app", username=USER, password=PASSWORD
    )
    await flow.click(view, "Connection Test", values)
    await flow.next_update()
    passed = await flow.next_update()
    assert "Connection test passed" in texts(passed)

    # The modal carries when the test passed, signed with the bot's key.
    keys = metadata._keys  # this test process signs as the bot does, then stops
    metadata.configure(SecretBox([flow.bot.secret_keys]))
    try:
        with metadata.issued_for("U1"):  # as the bot seals it, bound to the modal's user
            data = metadata.unseal("add", passed["private_metadata"])
            assert data["fp"] and abs(data["fp_at"] - time.time()) < 60
            # 16 minutes later (the same metadata, stamped as the bot would have then).
            older = {**data, "fp_at": data["fp_at"] - 16 * 60}
            passed["private_metadata"] = metadata.seal("add", older)
    finally:
        metadata._keys = keys
    answer = await flow.submit(passed, values)
    assert "Saving: testing the connection first" in texts(answer["view"])
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository `ttl/app`" in texts(saved)
    assert "Connection test passed" in texts(saved)  # run again, not "you just ran"
    await flow.next_call("chat.postMessage")


async def test_no_one_creates_a_harbor_project_with_the_tools_account_outside_a_grant(
    flow: Flow, harbor: HarborStandIn, secrets: list[str]
) -> None:
    """Create new with no account of one's own spends the tool's account: refused under
    Username within the ack, for a member and (since issue 18) for a workspace admin too,
    until a workspace admin grants the namespace to the project; then either may."""
    secrets.append(ADMIN_PASSWORD)
    await register_tool(flow, harbor, "harbor-guarded")
    await flow.create_project("harbor-create-rule")
    for who in ("UMEMBER", "UWSADMIN"):
        view = await flow.open_modal("add", user_id=who)
        new = await flow.choose(view, "Repository creation", "new", user_id=who)
        tool_id = next(
            o["value"]
            for b in new["blocks"]
            if b["block_id"] == ids.B_TOOL
            for o in b["element"]["options"]
            if o["text"]["text"].startswith("harbor-guarded")
        )
        values = add_values(new, tool=tool_id, creation="new", repository="sneaky/app")
        answer = await flow.submit(new, values, user_id=who)
        assert answer["response_action"] == "errors"
        assert (
            "harbor-guarded is not granted to this project for sneaky/app"
            in (answer["errors"][ids.B_USERNAME])
        )
    assert "sneaky" not in harbor.projects
    assert await flow.repositories() == []

    # Granted `allowed` to this project: the project is created with the tool's account
    # (the test that follows then reports what an anonymous pull can do, as for any entry).
    await flow.grant("harbor-guarded", "harbor-create-rule", "allowed")
    view = await flow.open_modal("add", user_id="UMEMBER")
    new = await flow.choose(view, "Repository creation", "new", user_id="UMEMBER")
    values = add_values(new, tool=tool_id, creation="new", repository="allowed/app")
    answer = await flow.submit(new, values, user_id="UMEMBER")
    assert answer["response_action"] == "update"
    await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "allowed" in harbor.projects


async def test_another_members_submission_of_u1s_signed_add_modal_is_refused(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    """Issue 18, item 7: signed metadata is bound to the person it was issued for. U9
    submits the add modal U1 opened (its metadata untouched, correctly signed): refused
    like a forgery, nothing saved; U1's own submission of it still saves."""
    secrets.append(PASSWORD)
    await flow.create_project("bound-meta")
    registry.client(USER, PASSWORD).push_image("bound/app")
    view = await flow.open_modal("add")  # U1's modal in U1's channel
    view = await flow.choose(view, "Repository type", "registry")
    values = add_values(
        view, url=registry.url, repository="bound/app", username=USER, password=PASSWORD
    )
    answer = await flow.submit(view, values, user_id="U9")
    assert answer["response_action"] == "update"
    assert "did not come from this app" in texts(answer["view"])
    assert await flow.repositories() == []
    # A button of U1's modal clicked by U9 (Connection Test): nothing is tested for U9.
    flow.skip_seen("views.update")
    await flow.click(view, "Connection Test", values, user_id="U9")
    clicked_at = flow.seen["views.update"]

    answer = await flow.submit(view, values)
    assert "did not come from this app" not in texts(answer.get("view") or {}), answer
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository `bound/app`" in texts(saved), texts(saved)
    (row,) = await flow.repositories()
    assert row.added_by == "U1"
    # U9's click tested nothing: no update of the modal ever said "Testing the connection".
    later = flow.standin.calls_to("views.update")[clicked_at:]
    assert not [c for c in later if "Testing the connection" in texts(c.response.get("view") or {})]
