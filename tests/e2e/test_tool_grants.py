"""Whose account, and where (issue 18, item 1; DESIGN.md "Registered tools"), end to end
through signed requests to the real server: an ordinary member who creates a project of
their own cannot spend a registered GitLab, Quay or Harbor tool's account on another team's
repositories (no test, no create, no delete in IR with it), whatever they type or tick; the
list says such an entry needs an account; once a workspace admin grants the namespace to the
project from `/imagerepo tools` -> Grants, the tool works there as before, and a grant taken
back stops it at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from handlers import ids
from tests.e2e.flow import Flow, labels, texts
from tests.e2e.helpers import add_values
from tests.e2e.test_harbor_tools import ADMIN_PASSWORD
from tests.e2e.test_harbor_tools import register_tool as register_harbor
from tests.e2e.test_hosted_tools import register_token_tool, saved_or_not
from tests.support.certs import TestCA
from tests.support.harbor_standin import HarborStandIn
from tests.support.hosted_standins import GitLabStandIn, QuayStandIn
from tests.support.registry_server import registry_available
from tests.support.slack_requests import (
    button_action,
    checkboxes_value,
    find_input,
    plain_text_value,
    values_by_label,
)

pytestmark = pytest.mark.registry

NEEDS_ACCOUNT = "needs an account: the tool is not granted here"


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitLabStandIn]:
    if not registry_available():
        pytest.skip("docker-registry is not installed")
    with GitLabStandIn(TestCA(), tmp_path_factory.mktemp("gitlab-g")).running() as standin:
        yield standin


@pytest.fixture(scope="module")
def quay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuayStandIn]:
    if not registry_available():
        pytest.skip("docker-registry is not installed")
    with QuayStandIn(TestCA(), tmp_path_factory.mktemp("quay-g")).running() as standin:
        yield standin


def tool_option(view: dict[str, Any], name: str) -> str:
    """The value of the registered tool named `name` in the add modal's select."""
    element = find_input(view, "Registered tool").element
    return next(o["value"] for o in element["options"] if o["text"]["text"].startswith(name))


def forged_delete_in_ir() -> dict[str, Any]:
    """The delete modal's state with "Also delete the repository in IR" ticked, sent even
    though the modal did not offer the box (a probe signs what it likes)."""
    return {ids.B_DELETE_IN_IR: {ids.A_DELETE_IN_IR: checkboxes_value(ids.OPT_DELETE_IN_IR)}}


async def open_delete(flow: Flow, repository: str) -> dict[str, Any]:
    blocks = await flow.list_blocks()
    await flow.menu(blocks, repository, "Delete")
    return dict((await flow.next_call("views.open")).response["view"])


async def test_gitlab_tool_token_never_deletes_outside_a_grant(
    flow: Flow, gitlab: GitLabStandIn, secrets: list[str]
) -> None:
    maint = gitlab.credentials("maint")
    secrets.append(maint[1])
    await register_token_tool(flow, "gitlab", "gl-grants", gitlab.api_url, maint[1])
    gitlab.add_project("victim/prod")
    gitlab.add_image("victim/prod", "api")

    # U1, an ordinary member, creates a project of their own (so they are its admin) and
    # adds the other team's repository through the tool with no account, saving it failing.
    await flow.create_project("evil-gitlab")
    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", "gitlab")
    values = add_values(
        view,
        url=gitlab.registry_url,
        tool=tool_option(view, "gl-grants"),
        repository="victim/prod/api",
        options=[ids.OPT_SAVE_UNHEALTHY],
    )
    gitlab.api_log.clear()
    await flow.submit(view, values)
    saved = await saved_or_not(flow)
    assert "Saved the app repository `victim/prod/api`" in saved, saved
    assert all(token != maint[1] for _, _, token in gitlab.api_log), gitlab.api_log
    assert NEEDS_ACCOUNT in texts(await flow.list_blocks())

    # Delete: the box is not offered, and the modal says why.
    view = await open_delete(flow, "victim/prod/api")
    assert "Image registry" not in labels(view)
    assert "gl-grants is not granted to this project for victim/prod/api" in texts(view)
    # Ticked anyway (a forged submission): nothing is deleted in GitLab, and it says why.
    await flow.submit(view, forged_delete_in_ir())
    kept = texts(await flow.next_update())
    assert "not granted to this project for victim/prod/api" in kept, kept
    assert "nothing was deleted in the registry; the entry stays in the list" in kept
    assert not [entry for entry in gitlab.api_log if entry[0] == "DELETE"]
    assert all(token != maint[1] for _, _, token in gitlab.api_log)
    assert "victim/prod/api" in gitlab.projects["victim/prod"].repositories
    assert [r.repository for r in await flow.repositories()] == ["victim/prod/api"]
    # Re-checked now (as the schedule does): tested without the tool's token.
    await flow.command_reply("check")
    summary = await flow.next_response()
    assert "failed" in str(summary.params.get("text", "")), summary.params
    assert all(token != maint[1] for _, _, token in gitlab.api_log), gitlab.api_log

    # A workspace admin grants victim/prod to this project: the same entry works as before.
    granted = await flow.grant("gl-grants", "evil-gitlab", "victim/prod")
    assert "`victim/prod`" in texts(granted)
    assert NEEDS_ACCOUNT not in texts(await flow.list_blocks())
    view = await open_delete(flow, "victim/prod/api")
    ticked = values_by_label(view, {"Image registry": checkboxes_value(ids.OPT_DELETE_IN_IR)})
    await flow.submit(view, ticked)
    done = texts(await flow.next_update())
    assert "and in the image registry" in done, done
    assert ("DELETE", maint[1]) in [(m, t) for m, _, t in gitlab.api_log]
    assert "victim/prod/api" not in gitlab.projects["victim/prod"].repositories


async def test_quay_create_new_with_a_made_up_account_never_uses_the_tools_token(
    flow: Flow, quay: QuayStandIn, secrets: list[str]
) -> None:
    secrets.extend([quay.admin_token, quay.robot[1], "made-up-pw-e2e"])
    await register_token_tool(flow, "quay", "quay-grants", quay.api_url, quay.admin_token)
    await flow.create_project("evil-quay")
    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", "quay")
    tool_id = tool_option(view, "quay-grants")
    new = await flow.choose(view, "Repository creation", "new")

    async def create(repository: str, username: str | None, password: str | None) -> str:
        values = add_values(
            new,
            tool=tool_id,
            creation="new",
            repository=repository,
            username=username,
            password=password,
            options=[ids.OPT_SAVE_UNHEALTHY],
        )
        answer = await flow.submit(new, values)
        if answer.get("response_action") == "errors":
            return " ".join(answer["errors"].values())
        return await saved_or_not(flow)

    quay.api_log.clear()
    # No account: refused under Username before anything is sent.
    refused = await create("acme/mal-nobody", None, None)
    assert "Creating a repository needs an account" in refused, refused
    # A made-up user and password: not "an own account"; Quay is not asked with the token.
    refused = await create("acme/mal-nobody", "nobody", "made-up-pw-e2e")
    assert "Not saved" in refused and "not granted to this project" in refused, refused
    assert "acme/mal-nobody" not in quay.repositories
    assert all(token != quay.admin_token for _, _, token in quay.api_log), quay.api_log
    assert await flow.repositories() == []

    # Granted (acme, to this project): Create new goes through the tool as before.
    await flow.grant("quay-grants", "evil-quay", "acme")
    saved = await create("acme/granted", quay.robot[0], quay.robot[1])
    assert "Saved the app repository `acme/granted`" in saved, saved
    assert "acme/granted" in quay.repositories
    assert ("POST", "/api/v1/repository", quay.admin_token) in quay.api_log


async def test_harbor_tool_admin_never_creates_a_project_for_a_weaker_account_outside_a_grant(
    flow: Flow, harbor: HarborStandIn, secrets: list[str]
) -> None:
    """Harbor let `Create new` fall back to the tool's admin when the user's own account
    may not create projects: outside a grant it no longer does."""
    secrets.extend([ADMIN_PASSWORD, "dev-pass-1"])
    await register_harbor(flow, harbor, "harbor-grants")
    await flow.create_project("evil-harbor")
    harbor.admin_only_create = True  # "dev" may not create projects: only the admin may
    try:
        view = await flow.open_modal("add")
        new = await flow.choose(view, "Repository creation", "new")
        values = add_values(
            new,
            tool=tool_option(new, "harbor-grants"),
            creation="new",
            repository="victim-new/app",
            username="dev",
            password="dev-pass-1",
        )
        await flow.submit(new, values)
        refused = await saved_or_not(flow)
        assert "Not saved" in refused and "not granted to this project" in refused, refused
        assert "victim-new" not in harbor.projects

        await flow.grant("harbor-grants", "evil-harbor", "victim-new")
        view = await flow.open_modal("add")
        new = await flow.choose(view, "Repository creation", "new")
        await flow.submit(new, values)
        saved = await saved_or_not(flow)
        assert "Saved the app repository `victim-new/app`" in saved, saved
        assert "victim-new" in harbor.projects  # created with the tool's admin, as granted
    finally:
        harbor.admin_only_create = False


async def test_grants_are_for_workspace_admins_and_each_change_is_audited(
    flow: Flow, harbor: HarborStandIn, secrets: list[str]
) -> None:
    secrets.append(ADMIN_PASSWORD)
    await register_harbor(flow, harbor, "harbor-audit-g")
    await flow.create_project("granted-proj")
    # A project admin who is no workspace admin sees no menu; a forged menu click is refused.
    member = await flow.command_reply("tools")
    assert "Grants" not in member
    view = await flow.grant("harbor-audit-g", "granted-proj", "team-a/")
    # A bad namespace and an unknown project: field errors where they were typed.
    answer = await flow.submit(
        view,
        values_by_label(
            view,
            {"Project": plain_text_value("no-such"), "Namespace": plain_text_value("Team A")},
        ),
        user_id="UWSADMIN",
    )
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [find_input(view, "Namespace").block_id]
    # Remove it with the row's button: the modal lists no grant any more.
    row = next(b for b in view["blocks"] if b.get("block_id", "").startswith("grant_"))
    button = row["accessory"]
    await flow.client.action(
        [button_action(button["action_id"], row["block_id"], value=button["value"])],
        view=view,
        user_id="UWSADMIN",
    )
    after = await flow.next_update()
    assert "Not granted to any project yet" in texts(after)
    trail = await flow.command_reply("audit", user_id="UWSADMIN")
    assert "tool-grant" in trail and "tool-ungrant" in trail, trail


async def test_tools_list_pages_with_previous_and_next(
    flow: Flow, harbor: HarborStandIn, secrets: list[str]
) -> None:
    """Issue 19, item 5: `/imagerepo tools` showed 20 tools and no way to the others."""
    from storage import tools as stored
    from storage.accounts import EnteredAccount
    from storage.crypto import SecretBox
    from storage.db import create_engine, session_factory, transaction

    box = SecretBox([flow.bot.secret_keys])
    engine = create_engine(flow.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            for number in range(25):
                await stored.add(
                    session,
                    box,
                    team_id="T1",
                    name=f"zz-page-{number:02d}",
                    url=harbor.url,
                    account=EnteredAccount(None, None),
                    created_by="UWSADMIN",
                )
    finally:
        await engine.dispose()

    flow.standin.set_user("UWSADMIN", is_admin=True)
    seen: list[str] = []
    await flow.command("tools", user_id="UWSADMIN")
    reply = await flow.next_response()
    pages = 0
    while True:
        pages += 1
        blocks = reply.params["blocks"]
        names = [
            b["text"]["text"].split("*")[1]
            for b in blocks
            if b.get("block_id", "").startswith("tool_") and b.get("type") == "section"
        ]
        assert 0 < len(names) <= 20
        seen += names
        pager = next((b for b in blocks if b.get("block_id") == "tools_pager"), None)
        nexts = [e for e in (pager or {}).get("elements", []) if e["text"]["text"] == "Next"]
        if not nexts:
            break
        if pages > 1:
            assert any(e["text"]["text"] == "Previous" for e in pager["elements"])  # type: ignore[index]
        await flow.client.action(
            [button_action(nexts[0]["action_id"], "tools_pager", value=nexts[0]["value"])],
            user_id="UWSADMIN",
            message={"type": "message", "ts": "7.7", "blocks": blocks},
        )
        reply = await flow.next_response()
        assert reply.params.get("replace_original") in (True, "true")
    assert pages >= 2
    assert [n for n in seen if n.startswith("zz-page-")] == [f"zz-page-{n:02d}" for n in range(25)]
    assert len(seen) == len(set(seen))
