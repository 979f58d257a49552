"""The audit trail end to end: every action done through Slack (signed requests to the real
server) leaves exactly one record with the right actor and outcome, refusals included;
no typed secret reaches a record; `/imagerepo audit` and Home show the trail."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers import ids
from storage import audit
from storage.audit import AuditEvent
from storage.db import create_engine, session_factory, transaction
from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import account_values, add_values, tool_row
from tests.e2e.test_harbor_tools import ADMIN, ADMIN_PASSWORD, register_tool, tool_values
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_httpserver import free_port
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import (
    button_action,
    checkboxes_value,
    overflow_action,
    values_by_label,
)

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))
TYPO = "Typo-Audit-Secret-77"
OFFLINE = "Offline-Audit-Secret-55"
COLUMNS = (
    "seq",
    "team_id",
    "user_id",
    "user_name",
    "action",
    "project",
    "target_type",
    "target_url",
    "target_repository",
    "outcome",
    "error_kind",
    "detail",
    "fingerprint",
    "request_id",
)


async def _rows(flow: Flow) -> list[dict[str, Any]]:
    async def read(session: Any) -> list[dict[str, Any]]:
        found = await audit.records(session, newest_first=False)
        return [{c: getattr(r, c) for c in COLUMNS} for r in found]

    return await flow.db(read)


class Trail:
    """The records written since the last look: each action must add exactly one."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.seen = 0

    async def start(self) -> Trail:
        self.seen = len(await _rows(self.flow))
        return self

    async def one(self) -> dict[str, Any]:
        rows = await _rows(self.flow)
        new, self.seen = rows[self.seen :], len(rows)
        assert len(new) == 1, f"expected one new audit record, got {new}"
        return new[0]


def _is_fingerprint(value: object) -> bool:
    return isinstance(value, str) and len(value) == 12 and int(value, 16) >= 0


async def _assert_no_secret_in_the_trail(flow: Flow, secrets: list[str]) -> None:
    dumped = json.dumps(await _rows(flow))
    leaked = [s for s in secrets if s in dumped]
    assert not leaked, "a typed secret reached the audit trail"


async def test_project_and_admin_changes_are_recorded_with_actor_and_outcome(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    # A user of this test's own: the bot trusts a users.info answer for a minute, so a
    # name another test gave U1 could still be the one it records.
    alice = "UALICEADM"
    standin.set_user(alice, name="Alice Admin")
    trail = await Trail(flow).start()
    created = await flow.command_reply("project create audit-admins", user_id=alice)
    assert "is its admin" in created, created
    record = await trail.one()
    assert (record["action"], record["outcome"], record["project"]) == (
        "project-create",
        "ok",
        "audit-admins",
    )
    assert (record["team_id"], record["user_id"], record["user_name"]) == (
        "T1",
        alice,
        "Alice Admin",
    )
    assert record["request_id"] and record["request_id"] != "-"

    assert "Only this project's admins" in await flow.command_reply(
        "project admin add <@U2>", user_id="U3"
    )
    record = await trail.one()
    assert (record["action"], record["outcome"], record["user_id"]) == (
        "admin-add",
        "refused",
        "U3",
    )
    assert record["error_kind"] == "permission" and "Only this project's admins" in record["detail"]

    assert "is now an admin" in await flow.command_reply("project admin add <@U2>", user_id=alice)
    record = await trail.one()
    assert (record["action"], record["outcome"], record["detail"]) == ("admin-add", "ok", "U2")

    removed = await flow.command_reply("project admin remove <@U2>", user_id=alice)
    assert "no longer an admin" in removed
    record = await trail.one()
    assert (record["action"], record["outcome"], record["user_id"]) == ("admin-remove", "ok", alice)


async def _save(flow: Flow, command: str, values_for: Any, *, user_id: str = "U1") -> str:
    view = await flow.open_modal(command, user_id=user_id)
    await flow.submit(view, values_for(view), user_id=user_id)
    done = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    return texts(done)


@pytest.mark.registry
async def test_repository_actions_are_recorded_and_no_secret_reaches_the_trail(
    flow: Flow, registry: RegistryServer, secrets: list[str], standin: SlackApiStandIn
) -> None:
    secrets.extend([PASSWORD, TYPO, OFFLINE])
    standin.set_user("U1", name="Alice Admin")
    await flow.create_project("audit-repos")
    trail = await Trail(flow).start()
    registry.client(USER, PASSWORD).push_image("audit/app")
    registry.client(USER, PASSWORD).push_image("audit/base")

    # The add modal's Connection Test (typed values, nothing saved) is one record too,
    # of the modal's project, with the typed credential's fingerprint.
    view = await flow.open_modal("add")
    typed = add_values(view, url=registry.url, repository="audit/app", username=USER, password=TYPO)
    await flow.click(view, "Connection Test", typed)
    await flow.until_update(lambda v: "failed" in texts(v))
    record = await trail.one()
    assert (record["action"], record["outcome"], record["project"]) == (
        "connection-test",
        "failed",
        "audit-repos",
    )
    assert record["error_kind"] == "authentication_failed"
    assert (record["target_url"], record["target_repository"]) == (registry.url, "audit/app")
    assert _is_fingerprint(record["fingerprint"])

    # add: the credential appears only as its 12-digit fingerprint.
    saved = await _save(
        flow,
        "add",
        lambda v: add_values(
            v, url=registry.url, repository="audit/app", username=USER, password=PASSWORD
        ),
    )
    assert "Saved the app repository" in saved
    await flow.next_call("chat.postMessage")
    record = await trail.one()
    assert (record["action"], record["outcome"], record["user_id"]) == ("add", "ok", "U1")
    assert (record["target_type"], record["target_url"], record["target_repository"]) == (
        "registry",
        registry.url,
        "audit/app",
    )
    assert _is_fingerprint(record["fingerprint"])
    good_fingerprint = record["fingerprint"]

    # add-pull
    saved = await _save(
        flow,
        "add-pull",
        lambda v: add_values(
            v, url=registry.url, repository="audit/base", username=USER, password=PASSWORD
        ),
    )
    assert "Saved the pull-only repository" in saved
    await flow.next_call("chat.postMessage")
    record = await trail.one()
    assert (record["action"], record["outcome"]) == ("add-pull", "ok")
    assert record["fingerprint"] == good_fingerprint  # the same account, the same digits

    # save-while-failing: refused for a member, then done by the admin.
    offline = f"http://127.0.0.1:{free_port()}"

    def failing(view: dict[str, Any]) -> Any:
        return add_values(
            view,
            url=offline,
            repository="audit/offline",
            username="ci",
            password=OFFLINE,
            options=[ids.OPT_SAVE_UNHEALTHY],
        )

    view = await flow.open_modal("add", user_id="UMEMBER")
    await flow.submit(view, failing(view), user_id="UMEMBER")
    assert "Only this project's admins" in texts(await flow.next_update())
    record = await trail.one()
    assert (record["action"], record["outcome"], record["user_id"]) == (
        "save-while-failing",
        "refused",
        "UMEMBER",
    )
    assert record["project"] == "audit-repos" and record["target_url"] == offline
    saved = await _save(flow, "add", failing)
    assert "Connection test failed" in saved
    await flow.next_call("chat.postMessage")
    record = await trail.one()
    assert (record["action"], record["outcome"]) == ("save-while-failing", "ok")
    assert _is_fingerprint(record["fingerprint"]) and record["fingerprint"] != good_fingerprint

    # Connection Test from the list.
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "audit/app", "Connection Test")
    await flow.next_call("views.open")
    assert "Connection test passed" in texts(await flow.next_update())
    record = await trail.one()
    assert (record["action"], record["outcome"], record["target_repository"]) == (
        "connection-test",
        "ok",
        "audit/app",
    )
    assert record["fingerprint"] == good_fingerprint
    await flow.next_response()  # the refreshed list

    # Change account: refused, failed (wrong password), then ok.
    await flow.menu(blocks, "audit/app", "Change account", user_id="UOTHER")
    await flow.next_response()
    record = await trail.one()
    assert (record["action"], record["outcome"], record["user_id"]) == (
        "change-account",
        "refused",
        "UOTHER",
    )
    await flow.menu(blocks, "audit/app", "Change account")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, account_values(view, USER, TYPO))
    failed = await flow.next_update()
    assert "not changed" in texts(failed)
    record = await trail.one()
    assert (record["action"], record["outcome"]) == ("change-account", "failed")
    assert record["error_kind"] == "authentication_failed"
    assert _is_fingerprint(record["fingerprint"]) and record["fingerprint"] != good_fingerprint
    await flow.submit(failed, account_values(failed, USER, PASSWORD))
    assert "Connection test passed" in texts(await flow.next_update())
    record = await trail.one()
    assert (record["action"], record["outcome"]) == ("change-account", "ok")
    assert record["fingerprint"] == good_fingerprint

    # Delete: refused for a member; in IR while the registry is down (failed), then ok.
    await flow.menu(blocks, "audit/app", "Delete", user_id="UMEMBER")
    await flow.next_response()
    record = await trail.one()
    assert (record["action"], record["outcome"]) == ("delete", "refused")
    await flow.menu(blocks, "audit/app", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    registry.stop()
    try:
        await flow.submit(view, ticked)
        kept = await flow.next_update()
    finally:
        registry.start()
    assert "The entry stays in the list" in texts(kept)
    record = await trail.one()
    assert (record["action"], record["outcome"]) == ("delete-in-ir", "failed")
    assert record["error_kind"] in ("connection_refused", "network_error")
    await flow.submit(kept, ticked)
    assert "and in the image registry" in texts(await flow.next_update())
    await flow.next_call("chat.postMessage")
    record = await trail.one()
    assert (record["action"], record["outcome"], record["target_repository"]) == (
        "delete-in-ir",
        "ok",
        "audit/app",
    )

    await flow.menu(blocks, "audit/base", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, values_by_label(view, {"Image registry": checkboxes_value()}))
    assert "Deleted" in texts(await flow.next_update())
    await flow.next_call("chat.postMessage")
    record = await trail.one()
    assert (record["action"], record["outcome"], record["target_repository"]) == (
        "delete",
        "ok",
        "audit/base",
    )

    await _assert_no_secret_in_the_trail(flow, secrets)


async def test_tool_actions_are_recorded(
    flow: Flow, harbor: HarborStandIn, secrets: list[str], standin: SlackApiStandIn
) -> None:
    secrets.append(ADMIN_PASSWORD)
    trail = await Trail(flow).start()
    await flow.client.action(
        [button_action(ids.A_TOOL_REGISTER, "tools_actions", text="Register Harbor")],
        user_id="UMEMBER",
    )
    assert "Only workspace admins" in (await flow.next_response()).params["text"]
    record = await trail.one()
    assert (record["action"], record["outcome"], record["user_id"]) == (
        "tool-register",
        "refused",
        "UMEMBER",
    )

    await register_tool(flow, harbor, "audit-harbor")
    record = await trail.one()
    assert (record["action"], record["outcome"], record["user_name"]) == (
        "tool-register",
        "ok",
        "uwsadmin",  # what users.info calls UWSADMIN
    )
    assert record["target_url"] == harbor.url and record["detail"] == "tool audit-harbor"
    assert _is_fingerprint(record["fingerprint"])

    listing = await flow.command_reply("tools", user_id=ADMIN)
    assert "audit-harbor" in listing
    blocks = flow.standin.calls_to("response_url")[-1].params["blocks"]
    row = tool_row(blocks, "audit-harbor")
    menu = row["accessory"]

    def choose(label: str) -> dict[str, Any]:
        value = next(o["value"] for o in menu["options"] if o["text"]["text"] == label)
        return overflow_action(menu["action_id"], row["block_id"], value, text=label)

    await flow.client.action([choose("Connection Test")], user_id=ADMIN)
    await flow.next_call("views.open")
    assert "passed" in texts(await flow.next_update())
    record = await trail.one()
    assert (record["action"], record["outcome"], record["target_type"]) == (
        "connection-test",
        "ok",
        "harbor-tool",
    )

    await flow.client.action([choose("Edit")], user_id=ADMIN)
    edit = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(
        edit,
        tool_values(edit, name="audit-harbor-2", url=harbor.url, username="admin"),
        user_id=ADMIN,
    )
    assert "Saved *audit-harbor-2*" in texts(await flow.next_update())
    record = await trail.one()
    assert (record["action"], record["outcome"], record["detail"]) == (
        "tool-edit",
        "ok",
        "tool audit-harbor-2",
    )

    await flow.client.action([choose("Remove")], user_id=ADMIN)
    remove = dict((await flow.next_call("views.open")).response["view"])
    answer = await flow.submit(remove, {}, user_id=ADMIN)
    assert "Removed the registered tool" in texts(answer["view"])
    record = await trail.one()
    assert (record["action"], record["outcome"]) == ("tool-remove", "ok")

    await _assert_no_secret_in_the_trail(flow, secrets)


async def test_the_audit_command_pages_for_admins_and_home_shows_recent_records(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    standin.set_user("U1", name="Alice <Admin> & co")
    await flow.create_project("audit-view")
    refusal = await flow.command_reply("audit", user_id="UMEMBER")
    assert "Only this project's admins" in refusal

    engine = create_engine(flow.database_url)
    try:
        for n in range(40):
            async with transaction(session_factory(engine)) as session:
                await audit.append(
                    session,
                    AuditEvent(
                        team_id="T1",
                        user_id="U1",
                        user_name="Alice <Admin> & co",
                        action="change-account",
                        project="audit-view",
                        target_type="registry",
                        target_url="https://registry.example.com",
                        target_repository=f"team/app{n:02d}",
                        fingerprint="0123456789ab",
                    ),
                )
    finally:
        await engine.dispose()

    await flow.command("audit")
    first = (await flow.next_response()).params
    blocks = first["blocks"]
    assert len(blocks) <= 50
    assert "Page 1 of 3" in texts(blocks) and "41 records" in texts(blocks)
    assert "`team/app39`" in texts(blocks) and "credential `0123456789ab`" in texts(blocks)
    assert "Alice &lt;Admin&gt; &amp; co" in texts(blocks)  # mrkdwn escaped
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b.get("type") == "section")
    pager = next(b for b in blocks if b["block_id"] == "audit_pager")
    nxt = pager["elements"][0]
    await flow.client.action(
        [button_action(nxt["action_id"], "audit_pager", value=nxt["value"], text="Next")],
        message={"type": "message", "ts": "9.1", "blocks": blocks},
    )
    second = (await flow.next_response()).params
    assert second["replace_original"] is True
    assert "Page 2 of 3" in texts(second["blocks"]) and "`team/app24`" in texts(second["blocks"])

    # Home: a workspace admin sees the workspace's latest records; a member does not.
    standin.set_user("UWSHOME", is_admin=True)
    await flow.client.home_opened(user_id="UWSHOME")
    await flow.next_call("views.publish")
    home = standin.home_view("UWSHOME")
    assert "Recent audit" in texts(home) and "`team/app39`" in texts(home)
    assert len(home["blocks"]) <= 100
    await flow.client.home_opened(user_id="UMEMBER")
    await flow.next_call("views.publish")
    assert "Recent audit" not in texts(standin.home_view("UMEMBER"))
