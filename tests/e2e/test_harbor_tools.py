"""`/imagerepo tools` (registered Harbor instances) and Harbor repositories: the registered
tool select, existing projects through an external select, Create new, delete in IR."""

from __future__ import annotations

from handlers import ids
from tests.e2e.flow import Flow, labels, texts
from tests.e2e.helpers import add_values, option_value, tool_row
from tests.support.harbor_standin import HarborStandIn
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import (
    button_action,
    checkboxes_value,
    find_input,
    plain_text_value,
    values_by_label,
)

ADMIN_PASSWORD = "Harbor12345"
ADMIN = "UWSADMIN"


def tool_values(view: dict, **fields: str | None) -> dict:
    return values_by_label(
        view,
        {
            "Name": plain_text_value(fields.get("name")),
            "Harbor URL": plain_text_value(fields.get("url")),
            "Username": plain_text_value(fields.get("username")),
            "Password or access token": plain_text_value(fields.get("password")),
            "CA bundle (PEM)": plain_text_value(fields.get("ca")),
            "Options": checkboxes_value(),
        },
    )


async def register_tool(flow: Flow, harbor: HarborStandIn, name: str) -> None:
    flow.standin.set_user(ADMIN, is_admin=True)
    reply = await flow.command("tools", user_id=ADMIN)
    assert reply.status_code == 200
    blocks = (await flow.next_response()).params["blocks"]
    register = next(b for b in blocks if b["block_id"] == "tools_actions")["elements"][0]
    await flow.client.action(
        [button_action(register["action_id"], "tools_actions", text="Register Harbor")],
        user_id=ADMIN,
        message={"type": "message", "ts": "1.3", "blocks": blocks},
    )
    view = dict((await flow.next_call("views.open")).response["view"])
    assert view["title"]["text"] == "Register Harbor"
    answer = await flow.submit(
        view,
        tool_values(view, name=name, url=harbor.url, username="admin", password=ADMIN_PASSWORD),
        user_id=ADMIN,
    )
    assert "Testing the instance" in texts(answer["view"])
    done = await flow.next_update()
    assert f"Registered *{name}*" in texts(done), texts(done)


async def test_only_workspace_admins_manage_tools(
    flow: Flow, harbor: HarborStandIn, secrets: list[str]
) -> None:
    secrets.append(ADMIN_PASSWORD)
    # A member sees no buttons, and a forged Register click is refused.
    member = await flow.command_reply("tools", user_id="UMEMBER")
    assert "Only workspace admins and owners" in member
    await flow.client.action(
        [button_action(ids.A_TOOL_REGISTER, "tools_actions", text="Register Harbor")],
        user_id="UMEMBER",
    )
    refusal = await flow.next_response()
    assert "Only workspace admins" in refusal.params["text"]

    # A tool that does not answer is not registered; bad fields are refused at once.
    flow.standin.set_user(ADMIN, is_admin=True)
    await flow.client.action(
        [button_action(ids.A_TOOL_REGISTER, "tools_actions", text="Register Harbor")],
        user_id=ADMIN,
    )
    view = dict((await flow.next_call("views.open")).response["view"])
    answer = await flow.submit(
        view, tool_values(view, name="", url="harbor.example.com"), user_id=ADMIN
    )
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {
        find_input(view, "Name").block_id,
        find_input(view, "Harbor URL").block_id,
    }
    answer = await flow.submit(
        view,
        tool_values(view, name="wrong", url=harbor.url, username="admin", password="nope-e2e-9"),
        user_id=ADMIN,
    )
    failed = await flow.next_update()
    assert "not registered" in texts(failed)

    await register_tool(flow, harbor, "harbor-main")
    listing = await flow.command_reply("tools", user_id=ADMIN)
    assert "harbor-main" in listing and harbor.url in listing

    # Test, edit (blank password keeps the saved one) and remove it.
    blocks = flow.standin.calls_to("response_url")[-1].params["blocks"]
    row = tool_row(blocks, "harbor-main")
    menu = row["accessory"]

    def choose(label: str) -> dict:
        value = next(o["value"] for o in menu["options"] if o["text"]["text"] == label)
        from tests.support.slack_requests import overflow_action

        return overflow_action(menu["action_id"], row["block_id"], value, text=label)

    await flow.client.action([choose("Connection Test")], user_id=ADMIN)
    await flow.next_call("views.open")
    result = await flow.next_update()
    assert "Connection test of harbor-main passed" in texts(result)

    await flow.client.action([choose("Edit")], user_id=ADMIN)
    edit = dict((await flow.next_call("views.open")).response["view"])
    assert find_input(edit, "Harbor URL").element["initial_value"] == harbor.url
    assert "initial_value" not in find_input(edit, "Password or access token").element
    await flow.submit(
        edit,
        tool_values(edit, name="harbor-renamed", url=harbor.url, username="admin"),
        user_id=ADMIN,
    )
    saved = await flow.next_update()
    assert "Saved *harbor-renamed*" in texts(saved), texts(saved)

    await flow.client.action([choose("Remove")], user_id=ADMIN)
    remove = dict((await flow.next_call("views.open")).response["view"])
    answer = await flow.submit(remove, {}, user_id=ADMIN)
    assert "Removed the registered tool *harbor-renamed*" in texts(answer["view"])


async def test_harbor_repositories_use_existing_create_new_and_delete_in_ir(
    flow: Flow, harbor: HarborStandIn, secrets: list[str], standin: SlackApiStandIn
) -> None:
    secrets.extend([ADMIN_PASSWORD, "dev-pass-1", "maint-pass-1", "newbie-pass-1"])
    await register_tool(flow, harbor, "harbor-apps")
    await flow.create_project("harbor-e2e")
    await flow.grant("harbor-apps", "harbor-e2e", "*")  # the whole instance, for this project
    view = await flow.open_modal("add")
    assert find_input(view, "Repository type").element["initial_option"]["value"] == "harbor"
    for label in ("Repository creation", "Registered tool", "Harbor project", "Repository"):
        assert label in labels(view)
    assert "Registry URL" not in labels(view) and "URL Check" not in texts(view)
    tool_id = option_value(find_input(view, "Registered tool").element, "harbor-apps")

    # Existing Harbor projects come from an external select (long lists work).
    project = find_input(view, "Harbor project")
    assert project.element["type"] == "external_select"
    state = add_values(view, tool=tool_id)
    response = await flow.client.suggest(
        project.action_id, project.block_id, "", view=view, values=state
    )
    names = [o["value"] for o in response.json()["options"]]
    assert {"apps", "library", "ci"} <= set(names)

    # Use existing: project apps, repository web, the developer's account.
    values = add_values(
        view,
        tool=tool_id,
        harbor_project="apps",
        repository="web",
        username="dev",
        password="dev-pass-1",
    )
    await flow.click(view, "Connection Test", values)
    await flow.next_update()
    passed = await flow.next_update()
    assert "Connection test passed" in texts(passed), texts(passed)
    answer = await flow.submit(passed, values)
    assert "Saved the app repository `apps/web`" in texts(answer["view"])
    await flow.next_call("chat.postMessage")

    # Create new: reshaped (no project select), the Harbor project is created.
    view = await flow.open_modal("add")
    new = await flow.choose(view, "Repository creation", "new")
    assert "Harbor project" not in labels(new)
    values = add_values(
        new,
        tool=tool_id,
        creation="new",
        repository="fresh/app",
        username="maint",
        password="maint-pass-1",
    )
    await flow.click(new, "Connection Test", values)
    await flow.next_update()
    account_ok = await flow.next_update()
    assert "the repository is created when you save" in texts(account_ok), texts(account_ok)
    assert "fresh" not in harbor.projects  # a test creates nothing
    answer = await flow.submit(account_ok, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository `fresh/app`" in texts(saved), texts(saved)
    assert "It was created in harbor-apps" in texts(saved)
    assert "fresh" in harbor.projects
    await flow.next_call("chat.postMessage")

    # Saving fails after the project was created: the user is told exactly what exists.
    del harbor.projects["fresh"]  # someone removed it in Harbor; the list still has fresh/app
    view = await flow.open_modal("add")
    new = await flow.choose(view, "Repository creation", "new")
    values = add_values(
        new,
        tool=tool_id,
        creation="new",
        repository="fresh/app",
        username="maint",
        password="maint-pass-1",
    )
    await flow.submit(new, values)
    refused = await flow.until_update(lambda v: "Not saved" in texts(v))
    assert "The registry now has the repository fresh/app, created just now" in texts(refused)
    assert "fresh" in harbor.projects

    # Creating a project that exists says so under Repository.
    view = await flow.open_modal("add")
    new = await flow.choose(view, "Repository creation", "new")
    values = add_values(
        new,
        tool=tool_id,
        creation="new",
        repository="apps/other",
        username="maint",
        password="maint-pass-1",
    )
    await flow.submit(new, values)
    refused = await flow.until_update(lambda v: "Not saved" in texts(v))
    assert "Use existing repository" in texts(refused)

    # Delete in IR with the developer's account: Harbor refuses, the entry stays.
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "apps/web", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    await flow.submit(view, ticked)
    kept = await flow.next_update()
    assert "The entry stays in the list" in texts(kept)
    assert "web" in harbor.projects["apps"].repositories
    assert "apps/web" in [r.repository for r in await flow.repositories()]
