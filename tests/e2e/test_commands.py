"""`/imagerepo` subcommands, projects and their admins, App Home, request signatures."""

from __future__ import annotations

from tests.e2e.flow import Flow, texts
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import slash_command


async def test_help_and_unknown_input_get_help(flow: Flow) -> None:
    for text in ("help", "", "frobnicate now"):
        response = await flow.command(text)
        assert "/imagerepo project create NAME" in response.text
        assert "add-pull" in response.text
        assert "Traceback" not in response.text
    assert "I don't know `frobnicate now`" in (await flow.command("frobnicate now")).text


async def test_a_channel_without_project_says_how_to_create_one(flow: Flow) -> None:
    for sub in ("list", "check", "add", "add-pull"):
        reply = await flow.command_reply(sub)
        assert "/imagerepo project create NAME" in reply, sub
    assert flow.standin.calls_to("views.open") == []


async def test_project_create_binds_the_channel_and_makes_the_creator_admin(flow: Flow) -> None:
    reply = await flow.command_reply("project create payments-e2e")
    assert "payments-e2e" in reply and "<@U1> is its admin" in reply
    from storage import projects

    project_id = await flow.project_id()
    admins = await flow.db(lambda s: projects.admin_ids(s, project_id))
    assert admins == ["U1"]

    again = await flow.command_reply("project create other-name-e2e")
    assert "already has a project" in again
    bad = await flow.command_reply("project create bad/name!")
    assert "project name" in bad


async def test_project_admins_add_and_remove(flow: Flow, standin: SlackApiStandIn) -> None:
    await flow.create_project("admins-e2e")
    # A member who is not an admin is refused.
    refused = await flow.command_reply("project admin add <@U2|bob>", user_id="U3")
    assert "Only this project's admins" in refused
    added = await flow.command_reply("project admin add <@U2|bob>")
    assert "<@U2> is now an admin" in added
    # The new admin may now add others; a workspace admin may everywhere.
    assert "is now an admin" in await flow.command_reply("project admin add <@U3>", user_id="U2")
    standin.set_user("UWSADMIN", is_admin=True)
    assert "is no longer an admin" in await flow.command_reply(
        "project admin remove <@U3>", user_id="UWSADMIN"
    )
    assert "Mention the user" in await flow.command_reply("project admin add bob")
    # The last admin cannot be removed.
    await flow.command_reply("project admin remove <@U2>")
    last = await flow.command_reply("project admin remove <@U1>")
    assert "at least one admin" in last


async def test_empty_list_and_check(flow: Flow) -> None:
    await flow.create_project("empty-e2e")
    blocks = await flow.list_blocks()
    assert "No repositories yet" in texts(blocks)
    reply = await flow.command_reply("check")
    assert "Testing every repository" in reply
    summary = await flow.next_response()
    assert "no repository to check" in str(summary.params.get("text"))


async def test_tools_are_for_workspace_admins(flow: Flow, standin: SlackApiStandIn) -> None:
    reply = await flow.command_reply("tools", user_id="U7")
    assert "Only workspace admins and owners" in reply
    assert "Register Harbor" not in reply
    standin.set_user("UOWNER", is_owner=True)
    owner_view = await flow.command_reply("tools", user_id="UOWNER")
    assert "Register Harbor" in owner_view


async def test_app_home_lists_projects(flow: Flow, standin: SlackApiStandIn) -> None:
    await flow.create_project("home-e2e")
    response = await flow.client.home_opened(user_id=flow.client.user_id)
    assert response.status_code == 200
    call = await flow.next_call("views.publish")
    assert call.ok
    home = standin.home_view(flow.client.user_id)
    assert home["type"] == "home"
    assert "Image repositories" in texts(home)
    assert "home-e2e" in str(home)


async def test_app_home_hides_projects_of_other_channels(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    await flow.create_project("home-private")
    await flow.client.home_opened(user_id="UOUTSIDER")
    await flow.next_call("views.publish")
    assert "home-private" not in str(standin.home_view("UOUTSIDER"))
    standin.set_user("UWSADMIN", is_admin=True)
    await flow.client.home_opened(user_id="UWSADMIN")
    await flow.next_call("views.publish")
    assert "home-private" in str(standin.home_view("UWSADMIN"))


async def test_requests_without_a_valid_signature_are_refused(
    flow: Flow, secrets: list[str]
) -> None:
    secret = "stale-request-password-31337"
    secrets.append(secret)
    body = slash_command(f"help {secret}", channel_id=flow.channel_id)
    assert (await flow.client.post_bad_signature(body)).status_code == 401
    assert (await flow.client.post_stale(body)).status_code == 401
    assert (await flow.client.post_unsigned(body)).status_code == 401
    assert (await flow.client.post_tampered(body)).status_code == 401
    assert flow.standin.calls == []


async def test_home_chooses_among_more_than_100_projects(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    """Issue 19, 5: Home showed the first 100 projects; the 101st could not be chosen."""
    from handlers import ids
    from tests.support.slack_requests import external_select_action

    USER = "UMANYPROJECTS"  # sees only the projects it created (not a workspace admin)

    for number in range(101):
        reply = await flow.command_reply(
            f"project create many-{number:03d}", channel_id=f"CM{number}", user_id=USER
        )
        assert "is its admin" in reply, reply
    await flow.client.home_opened(user_id=USER)
    await flow.next_call("views.publish")
    home = standin.home_view(USER)
    [select] = [b["accessory"] for b in home["blocks"] if b["block_id"] == ids.B_HOME_PROJECT]
    assert select["type"] == "external_select"
    assert select["initial_option"]["text"]["text"] == "many-000"

    # Options come from block_suggestion, 100 at most, filtered by the typed text.
    every = await flow.client.suggest(
        ids.A_HOME_PROJECT, ids.B_HOME_PROJECT, "", view=home, user_id=USER
    )
    assert len(every.json()["options"]) == 100
    typed = await flow.client.suggest(
        ids.A_HOME_PROJECT, ids.B_HOME_PROJECT, "-100", view=home, user_id=USER
    )
    [last] = typed.json()["options"]
    assert last["text"]["text"] == "many-100"

    # Choosing the 101st shows it, not project 1.
    await flow.client.action(
        [external_select_action(ids.A_HOME_PROJECT, ids.B_HOME_PROJECT, last["value"])],
        view=home,
        user_id=USER,
    )
    await flow.next_call("views.publish")
    shown = standin.home_view(USER)
    [select] = [b["accessory"] for b in shown["blocks"] if b["block_id"] == ids.B_HOME_PROJECT]
    assert select["initial_option"]["value"] == last["value"]
    assert "Image repositories of many-100" in texts(shown)
