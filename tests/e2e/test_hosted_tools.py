"""GitLab and Quay as registered tools, end to end from Slack through signed requests:
`/imagerepo tools` registers each kind with its API token, the add modal lists only the
tools of the chosen type, `Create new` creates in Quay (through the tool's OAuth token) and
checks the GitLab project (refusing a missing one), and delete in IR goes through the tool
even when the saved account (a Quay robot, a GitLab Developer token) could not delete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.flow import Flow, labels, texts
from tests.e2e.helpers import add_values
from tests.support.certs import TestCA
from tests.support.hosted_standins import GitLabStandIn, QuayStandIn
from tests.support.registry_server import skip_or_fail_without_registry
from tests.support.slack_requests import (
    button_action,
    checkboxes_value,
    find_input,
    plain_text_value,
    static_select_value,
    values_by_label,
)

pytestmark = pytest.mark.registry

ADMIN = "UWSADMIN"


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitLabStandIn]:
    skip_or_fail_without_registry()
    with GitLabStandIn(TestCA(), tmp_path_factory.mktemp("gitlab")).running() as standin:
        yield standin


@pytest.fixture(scope="module")
def quay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuayStandIn]:
    skip_or_fail_without_registry()
    with QuayStandIn(TestCA(), tmp_path_factory.mktemp("quay")).running() as standin:
        yield standin


async def open_register(flow: Flow) -> dict:
    flow.standin.set_user(ADMIN, is_admin=True)
    await flow.client.action(
        [button_action("tool_register", "tools_actions", text="Register Harbor, GitLab or Quay")],
        user_id=ADMIN,
    )
    return dict((await flow.next_call("views.open")).response["view"])


async def register_token_tool(flow: Flow, kind: str, name: str, url: str, token: str) -> dict:
    """Register a GitLab or Quay tool; returns the form as it was submitted."""
    view = await open_register(flow)
    assert view["title"]["text"] == "Register Harbor"
    view = await flow.choose(view, "Tool type", kind, user_id=ADMIN)
    label = {"gitlab": "GitLab", "quay": "Quay"}[kind]
    assert view["title"]["text"] == f"Register {label}"
    assert f"{label} URL" in labels(view) and "API token" in labels(view)
    assert "Username" not in labels(view)  # a token-only tool has no account to type
    values = values_by_label(
        view,
        {
            "Tool type": static_select_value(kind),
            "Name": plain_text_value(name),
            f"{label} URL": plain_text_value(url),
            "API token": plain_text_value(token),
            "CA bundle (PEM)": plain_text_value(None),
            "Options": checkboxes_value(),
        },
    )
    answer = await flow.submit(view, values, user_id=ADMIN)
    assert "Testing the instance" in texts(answer["view"])
    done = await flow.next_update()
    assert f"Registered *{name}*" in texts(done), texts(done)
    assert (
        f"Registered tool of a {'GitLab Container Registry' if kind == 'gitlab' else 'Quay'}"
        in (texts(done))
    )
    return view


async def ensure_tool(flow: Flow, kind: str, name: str, url: str, token: str) -> None:
    """Register `name` unless this module's bot already has it, so that a test needing a
    tool gets it whichever tests ran before it (or were deselected)."""
    flow.standin.set_user(ADMIN, is_admin=True)
    if name not in await flow.command_reply("tools", user_id=ADMIN):
        await register_token_tool(flow, kind, name, url, token)


@pytest.fixture
async def gitlab_tool(flow: Flow, gitlab: GitLabStandIn, secrets: list[str]) -> str:
    """The GitLab tool `gitlab-main` (a Maintainer's token), registered for this test."""
    token = gitlab.credentials("maint")[1]
    secrets.append(token)
    await ensure_tool(flow, "gitlab", "gitlab-main", gitlab.api_url, token)
    return "gitlab-main"


@pytest.fixture
async def quay_tool(flow: Flow, quay: QuayStandIn, secrets: list[str]) -> str:
    """The Quay tool `quay-acme` (the organization admin's OAuth token), registered."""
    secrets.append(quay.admin_token)
    await ensure_tool(flow, "quay", "quay-acme", quay.api_url, quay.admin_token)
    return "quay-acme"


def tool_option(view: dict, kind: str, name: str) -> str:
    """The value of tool `name` in the add modal's tool select, which lists tools of the
    chosen `kind` only (every tool of this module is named `<kind>-...`)."""
    options = find_input(view, "Registered tool").element["options"]
    names = [o["text"]["text"].split(" (")[0] for o in options]
    assert name in names and all(n.startswith(f"{kind}-") for n in names), names
    return str(options[names.index(name)]["value"])


async def saved_or_not(flow: Flow) -> str:
    view = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    return texts(view)


async def delete_in_ir(flow: Flow, repository: str) -> str:
    blocks = await flow.list_blocks()
    await flow.menu(blocks, repository, "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    assert "Image registry" in labels(view), texts(view)  # the tool can delete: box offered
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    await flow.submit(view, ticked)
    return texts(await flow.next_update())


async def test_register_token_tools_refuses_missing_token_and_lists_kinds(
    flow: Flow, gitlab: GitLabStandIn, quay: QuayStandIn, secrets: list[str]
) -> None:
    maint = gitlab.credentials("maint")
    secrets.extend([maint[1], quay.admin_token])

    # No token: refused under the field at once; a wrong token: tested and not registered.
    view = await open_register(flow)
    view = await flow.choose(view, "Tool type", "quay", user_id=ADMIN)
    base = {
        "Tool type": static_select_value("quay"),
        "Name": plain_text_value("quay-wrong"),
        "Quay URL": plain_text_value(quay.api_url),
        "CA bundle (PEM)": plain_text_value(None),
        "Options": checkboxes_value(),
    }
    answer = await flow.submit(
        view, values_by_label(view, {**base, "API token": plain_text_value(None)}), user_id=ADMIN
    )
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [find_input(view, "API token").block_id]
    assert "Quay API token" in next(iter(answer["errors"].values()))
    await flow.submit(
        view,
        values_by_label(view, {**base, "API token": plain_text_value("not-the-token-e2e")}),
        user_id=ADMIN,
    )
    failed = await flow.next_update()
    assert "rejected the tool's OAuth token" in texts(failed) and "not registered" in texts(failed)

    await register_token_tool(flow, "gitlab", "gitlab-listed", gitlab.api_url, maint[1])
    await register_token_tool(flow, "quay", "quay-listed", quay.api_url, quay.admin_token)
    listing = await flow.command_reply("tools", user_id=ADMIN)
    assert "gitlab-listed" in listing and "GitLab" in listing and "API token" in listing
    assert "quay-listed" in listing and "quay-wrong" not in listing
    assert maint[1] not in listing and quay.admin_token not in listing


async def test_quay_create_new_through_the_tool_and_delete_in_ir(
    flow: Flow, quay: QuayStandIn, quay_tool: str, secrets: list[str]
) -> None:
    secrets.append(quay.robot[1])
    await flow.create_project("quay-tools")
    await flow.grant("quay-acme", "quay-tools", "acme")  # the tool's token works in acme/
    view = await flow.open_modal("add")
    # Harbor lists Harbor tools only: none registered, although GitLab and Quay tools are.
    assert "Registered tool" not in labels(view) and "No Harbor instance" in texts(view)
    view = await flow.choose(view, "Repository type", "quay")
    tool = tool_option(view, "quay", quay_tool)
    new = await flow.choose(view, "Repository creation", "new")
    assert "created in Quay" in texts(new)
    values = add_values(
        new,
        tool=tool,
        creation="new",
        repository="acme/fresh",
        username=quay.robot[0],
        password=quay.robot[1],
    )
    assert "acme/fresh" not in quay.repositories
    await flow.submit(new, values)
    saved = await saved_or_not(flow)
    assert "Saved the app repository `acme/fresh`" in saved, saved
    assert "It was created in quay-acme" in saved
    assert "acme/fresh" in quay.repositories  # POST /api/v1/repository with the tool's token
    await flow.next_call("chat.postMessage")
    row = next(r for r in await flow.repositories() if r.repository == "acme/fresh")
    assert row.tool_id is not None and row.username == quay.robot[0]
    assert row.registry_url.rstrip("/") == quay.api_url.rstrip("/")  # the tool's host

    # A robot cannot use Quay's API, but the entry's tool can: deleted in Quay and the list.
    done = await delete_in_ir(flow, "acme/fresh")
    assert "and in the image registry" in done, done
    assert "acme/fresh" not in quay.repositories
    assert all(r.repository != "acme/fresh" for r in await flow.repositories())


async def test_gitlab_create_new_checks_the_project_and_deletes_through_the_tool(
    flow: Flow, gitlab: GitLabStandIn, gitlab_tool: str, secrets: list[str]
) -> None:
    dev = gitlab.credentials("dev")
    secrets.append(dev[1])
    gitlab.add_project("team/svc")
    await flow.create_project("gitlab-tools")
    await flow.grant("gitlab-main", "gitlab-tools", "team")  # the tool's token works in team/
    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", "gitlab")
    tool_id = tool_option(view, "gitlab", gitlab_tool)
    new = await flow.choose(view, "Repository creation", "new")
    assert "existing GitLab project" in texts(new)

    # A project GitLab does not have: refused, nothing saved.
    values = add_values(
        new,
        url=gitlab.registry_url,
        tool=tool_id,
        creation="new",
        repository="ghost/app",
        username=dev[0],
        password=dev[1],
    )
    await flow.submit(new, values)
    refused = await saved_or_not(flow)
    assert "GitLab has no project for ghost/app" in refused, refused
    assert "create the project in GitLab first" in refused
    assert await flow.repositories() == []

    # An existing project: checked through the tool, saved with the developer's token.
    values = add_values(
        new,
        url=gitlab.registry_url,
        tool=tool_id,
        creation="new",
        repository="team/svc/api",
        username=dev[0],
        password=dev[1],
    )
    await flow.submit(new, values)
    saved = await saved_or_not(flow)
    assert "Saved the app repository `team/svc/api`" in saved, saved
    assert "appears on first push" in saved
    # The channel hears of it even when SQLite gave this entry a deleted entry's row id
    # (the Quay test's, when it ran first): the outbox key includes when it was added.
    await flow.next_call("chat.postMessage")
    (row,) = await flow.repositories()
    assert row.tool_id is not None and row.username == "dev"

    # CI pushes; the developer's token may not delete, the tool's maintainer token does.
    gitlab.add_image("team/svc", "api")
    done = await delete_in_ir(flow, "team/svc/api")
    assert "and in the image registry" in done, done
    assert "team/svc/api" not in gitlab.projects["team/svc"].repositories
    assert gitlab.tags("team/svc/api") in (None, [])
    assert await flow.repositories() == []
