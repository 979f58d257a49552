"""`/imagerepo add` and `add-pull` against a real registry (distribution, htpasswd)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from handlers import ids
from tests.e2e.flow import Flow, bot_process, labels, texts
from tests.e2e.helpers import add_values
from tests.support.bot_process import BotProcess
from tests.support.registry_httpserver import free_port
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import find_input

pytestmark = pytest.mark.registry

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))


@pytest.fixture(scope="module")
def bot(
    standin: SlackApiStandIn,
    database_url_e2e: str,
    tmp_path_factory: pytest.TempPathFactory,
    registry: RegistryServer,
) -> Iterator[BotProcess]:
    """This module's bot sees the local registry as "Docker Hub" (a mirror, as in tests)."""
    env = {"IMAGEREPO_DOCKERHUB_REGISTRY_URL": registry.url}
    with bot_process(standin, database_url_e2e, tmp_path_factory, env) as process:
        yield process


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_the_modal_has_the_console_fields_and_reshapes_by_type(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    await flow.create_project("shape-e2e")
    view = await flow.open_modal("add")
    assert view["title"]["text"] == "Add image repository"
    assert labels(view)[:3] == ["Repository type", "Repository creation", "Registry URL"]
    for label in ("Repository", "Username", "Password or access token"):
        assert label in labels(view)
    assert "URL Check" in texts(view) and "Connection Test" in texts(view)
    creation = find_input(view, "Repository creation").element
    assert [o["text"]["text"] for o in creation["options"]] == ["Use existing repository"]
    type_block = next(b for b in view["blocks"] if b["block_id"] == ids.B_TYPE)
    assert type_block["dispatch_action"] is True
    secret = find_input(view, "Password or access token").element
    assert "initial_value" not in secret

    hub = await flow.choose(view, "Repository type", "dockerhub")
    update = standin.calls_to("views.update")[-1]
    assert update.params["hash"] == view["hash"] and update.params["view_id"] == view["id"]
    assert "Registry URL" not in labels(hub)
    assert "Docker Hub registry" in texts(hub)
    assert "URL Check" not in texts(hub)

    harbor = await flow.choose(hub, "Repository type", "harbor")
    creation = find_input(harbor, "Repository creation").element
    assert [o["text"]["text"] for o in creation["options"]] == [
        "Create new repository",
        "Use existing repository",
    ]
    assert "No Harbor instance is registered" in texts(harbor)
    metadata = json.loads(harbor["private_metadata"])
    assert set(metadata) == {
        "k",  # which modal's metadata this is (signed with it)
        "u",  # whom it was issued for (another user's request cannot use it)
        "access",
        "channel_id",
        "registry_type",
        "creation",
        "fp",
        "fp_at",
        "sig",  # HMAC of the rest: docs/security.md
    }


async def test_save_reports_every_invalid_field_under_it(flow: Flow) -> None:
    await flow.create_project("invalid-e2e")
    view = await flow.open_modal("add")

    def block(label: str) -> str:
        return find_input(view, label).block_id

    cases = [
        (
            dict(url="", repository=""),
            {"Registry URL": "Enter the registry URL", "Repository": "Enter the repository"},
        ),
        (
            dict(url="ftp://registry.example.com", repository="team/app"),
            {"Registry URL": "http:// or https://"},
        ),
        (
            dict(url="https://u:p@registry.example.com", repository="team/app"),
            {"Registry URL": "not in the URL"},
        ),
        (
            dict(url="https://registry.example.com/some/path", repository="team/app"),
            {"Registry URL": "base URL"},
        ),
        (
            dict(url="https://registry.example.com", repository="Team/App:1.0"),
            {"Repository": "lowercase"},
        ),
        (
            dict(url="https://registry.example.com", repository="a" * 256),
            {"Repository": "At most 255"},
        ),
        (
            dict(url="https://registry.example.com", repository="team/app", username="bob"),
            {"Password or access token": "Enter the password"},
        ),
        (
            dict(url="https://registry.example.com", repository="team/app", password="x" * 10),
            {"Username": "Enter the user name"},
        ),
        (
            dict(
                url="https://registry.example.com",
                repository="team/app",
                username="u" * 256,
                password="p",
            ),
            {"Username": "At most 255"},
        ),
        (
            dict(
                url="https://registry.example.com",
                repository="team/app",
                username="u",
                password="p" * 3001,
            ),
            {"Password or access token": "At most 3000"},
        ),
    ]
    for fields, expected in cases:
        answer = await flow.submit(view, add_values(view, **fields))  # type: ignore[arg-type]
        assert answer.get("response_action") == "errors", (fields, answer)
        errors = answer["errors"]
        for label, words in expected.items():
            assert words in errors.get(block(label), ""), (fields, errors)
        assert set(errors) <= {block(label) for label in labels(view)}
    assert await flow.repositories() == []


async def test_url_check_reports_what_it_found(flow: Flow, registry: RegistryServer) -> None:
    await flow.create_project("urlcheck-e2e")
    view = await flow.open_modal("add")
    await flow.click(view, "URL Check", add_values(view, url=registry.url))
    checking = await flow.next_update()
    assert "Checking" in texts(checking)
    found = await flow.next_update()
    assert ":white_check_mark: *URL Check:*" in texts(found)
    assert "Basic" in texts(found)

    await flow.click(found, "URL Check", add_values(found, url=closed_url()))
    await flow.next_update()
    failed = await flow.next_update()
    assert "URL Check failed" in texts(failed)

    await flow.click(failed, "URL Check", add_values(failed, url="not a url"))
    await flow.next_update()
    bad = await flow.next_update()
    assert "http:// or https://" in texts(bad)


async def test_connection_test_shows_testing_then_which_step_failed(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    secrets.extend([PASSWORD, "wrong-password-e2e-1"])
    registry.client(USER, PASSWORD).push_image("team/app")
    await flow.create_project("conntest-e2e")
    view = await flow.open_modal("add")
    values = add_values(
        view,
        url=registry.url,
        repository="team/app",
        username=USER,
        password="wrong-password-e2e-1",
    )
    await flow.click(view, "Connection Test", values)
    testing = await flow.next_update()
    assert "Testing the connection" in texts(testing)
    failed = await flow.next_update()
    assert "Connection test failed" in texts(failed)
    assert "Signed in" in texts(failed) and "authentication failed" in texts(failed)
    assert json.loads(failed["private_metadata"])["fp"] == ""

    values = add_values(
        failed, url=registry.url, repository="team/app", username=USER, password=PASSWORD
    )
    await flow.click(failed, "Connection Test", values)
    await flow.next_update()
    passed = await flow.next_update()
    assert "Connection test passed" in texts(passed)
    assert "Push access" in texts(passed) and "Pull access" in texts(passed)
    assert json.loads(passed["private_metadata"])["fp"]

    # Save with the values that just passed: no new test, stored, channel told.
    answer = await flow.submit(passed, values)
    assert answer["response_action"] == "update"
    assert "Saved the app repository `team/app`" in texts(answer["view"])
    message = await flow.next_call("chat.postMessage")
    assert message.params["channel"] == flow.channel_id
    assert "team/app" in message.params["text"] and "<@U1>" in message.params["text"]
    rows = await flow.repositories()
    # The test that passed a moment ago is not repeated: it is the entry's first check, so
    # the list agrees with the channel's "connection test passed" (issue 19).
    assert "connection test passed" in message.params["text"]
    assert [(r.repository, r.username, r.access) for r in rows] == [("team/app", USER, "app")]
    assert rows[0].health == "healthy" and rows[0].last_checked_at is not None
    listed = texts(await flow.list_blocks())
    assert "healthy" in listed and "not checked yet" not in listed
    assert "last check never" not in listed
    assert rows[0].secret_ciphertext and PASSWORD not in rows[0].secret_ciphertext


async def test_save_retests_changed_values_and_refuses_a_failing_test(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    secrets.extend([PASSWORD, "bad-password-e2e-2"])
    registry.client(USER, PASSWORD).push_image("team/web")
    await flow.create_project("retest-e2e")
    view = await flow.open_modal("add")
    bad = add_values(
        view, url=registry.url, repository="team/web", username=USER, password="bad-password-e2e-2"
    )
    answer = await flow.submit(view, bad)
    assert answer["response_action"] == "update"
    assert "testing the connection first" in texts(answer["view"])
    refused = await flow.next_update()
    assert "Not saved" in texts(refused) and "authentication failed" in texts(refused)
    assert await flow.repositories() == []

    good = add_values(
        refused, url=registry.url, repository="team/web", username=USER, password=PASSWORD
    )
    answer = await flow.submit(refused, good)
    assert "testing the connection first" in texts(answer["view"])
    saved = await flow.next_update()
    assert "Saved the app repository `team/web`" in texts(saved)
    assert "Connection test passed" in texts(saved)
    message = await flow.next_call("chat.postMessage")
    assert "team/web" in message.params["text"]
    assert [r.repository for r in await flow.repositories()] == ["team/web"]


async def test_pull_only_tests_pull_access_only(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    registry.client(USER, PASSWORD).push_image("base/alpine")
    await flow.create_project("pull-e2e")
    view = await flow.open_modal("add-pull")
    assert view["title"]["text"] == "Add pull-only repository"
    assert "pull* access only" in texts(view)
    values = add_values(
        view, url=registry.url, repository="base/alpine", username=USER, password=PASSWORD
    )
    await flow.click(view, "Connection Test", values)
    await flow.next_update()
    passed = await flow.next_update()
    assert "Connection test passed" in texts(passed)
    assert "Push access" not in texts(passed)
    answer = await flow.submit(passed, values)
    assert "Saved the pull-only repository `base/alpine`" in texts(answer["view"])
    assert [r.access for r in await flow.repositories()] == ["pull_only"]


async def test_an_admin_may_save_a_failing_repository_on_purpose(
    flow: Flow, secrets: list[str]
) -> None:
    secrets.append("unreachable-pass-e2e")
    await flow.create_project("unhealthy-e2e")
    view = await flow.open_modal("add")
    values = add_values(
        view,
        url=closed_url(),
        repository="team/offline",
        username="ci",
        password="unreachable-pass-e2e",
        options=[ids.OPT_SAVE_UNHEALTHY],
    )
    # A member who is not a project admin may not (in a modal of their own: U1's modal
    # is U1's, issue 18 item 7).
    theirs = await flow.open_modal("add", user_id="UMEMBER")
    answer = await flow.submit(
        theirs,
        add_values(
            theirs,
            url=closed_url(),
            repository="team/offline",
            username="ci",
            password="unreachable-pass-e2e",
            options=[ids.OPT_SAVE_UNHEALTHY],
        ),
        user_id="UMEMBER",
    )
    refused = await flow.next_update()
    assert "Only this project's admins" in texts(refused)
    answer = await flow.submit(view, values)
    assert answer["response_action"] == "update"
    saved = await flow.next_update()
    assert "Saved the app repository `team/offline`" in texts(saved)
    assert "Connection test failed" in texts(saved)
    message = await flow.next_call("chat.postMessage")
    assert "without a passing connection test" in message.params["text"]
    assert [r.health for r in await flow.repositories()] == ["failing"]


async def test_a_hostile_host_is_refused_under_registry_url_even_when_saved_anyway(
    flow: Flow, secrets: list[str]
) -> None:
    """Issue 19: `https://` + 1,200 `&` + `.example` was saved (with "Save even if the
    connection test fails") and its alerts never reached the channel."""
    secrets.append("hostile-pass-e2e")
    await flow.create_project("hostile-e2e")
    view = await flow.open_modal("add")
    values = add_values(
        view,
        url="https://" + "&" * 1200 + ".example",
        repository="team/app",
        username="ci",
        password="hostile-pass-e2e",
        options=[ids.OPT_SAVE_UNHEALTHY],
    )
    answer = await flow.submit(view, values)
    assert answer.get("response_action") == "errors", answer
    assert set(answer["errors"]) == {find_input(view, "Registry URL").block_id}
    assert "must be a DNS name" in answer["errors"][find_input(view, "Registry URL").block_id]
    assert await flow.repositories() == []


async def test_docker_hub_uses_the_configured_registry_and_library_names(
    flow: Flow, registry: RegistryServer, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    registry.client(USER, PASSWORD).push_image("library/nginx")
    await flow.create_project("hub-e2e")
    view = await flow.open_modal("add-pull")
    hub = await flow.choose(view, "Repository type", "dockerhub")
    assert registry.url in texts(hub)
    values = add_values(hub, repository="nginx", username=USER, password=PASSWORD)
    answer = await flow.submit(hub, values)
    assert answer["response_action"] == "update"
    saved = await flow.next_update()
    assert "Saved the pull-only repository `library/nginx`" in texts(saved), texts(saved)
    assert "(Docker Hub)" in texts(saved)
    await flow.next_call("chat.postMessage")
    rows = await flow.repositories()
    assert [(r.registry_type, r.repository, r.registry_url) for r in rows] == [
        ("dockerhub", "library/nginx", registry.url)
    ]
