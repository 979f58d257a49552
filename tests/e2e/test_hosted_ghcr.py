"""GitHub Container Registry from Slack, end to end through signed requests: add (the type
fills ghcr's place, here the stand-in's), test, change account (a missing scope is named and
nothing changes), delete in IR through GitHub's packages API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.flow import Flow, bot_process, texts
from tests.e2e.helpers import account_values, add_values
from tests.support.bot_process import BotProcess
from tests.support.certs import TestCA
from tests.support.hosted_standins import GitHubStandIn, GitLabStandIn
from tests.support.registry_server import skip_or_fail_without_registry
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import checkboxes_value, values_by_label

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandIn]:
    skip_or_fail_without_registry()
    with GitHubStandIn(TestCA(), tmp_path_factory.mktemp("github")).running() as standin:
        yield standin


@pytest.fixture(scope="module")
def bot(
    standin: SlackApiStandIn,
    database_url_e2e: str,
    tmp_path_factory: pytest.TempPathFactory,
    github: GitHubStandIn,
) -> Iterator[BotProcess]:
    env = {"IMAGEREPO_GITHUB_API_URL": github.api_url}
    with bot_process(standin, database_url_e2e, tmp_path_factory, env) as process:
        yield process


async def test_ghcr_add_test_change_account_delete_in_ir(
    flow: Flow, github: GitHubStandIn, secrets: list[str]
) -> None:
    octo, reader, pusher = (github.credentials(u) for u in ("octo", "reader", "pusher"))
    secrets.extend([octo[1], reader[1], pusher[1]])
    github.add_package("acme/web")
    await flow.create_project("ghcr-e2e")

    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", "ghcr")
    assert "GitHub Container Registry" in texts(view) and "https://ghcr.io" in texts(view)
    values = add_values(
        view, url=github.registry_url, repository="acme/web", username=octo[0], password=octo[1]
    )
    await flow.submit(view, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository" in texts(saved), texts(saved)
    await flow.next_call("chat.postMessage")
    row = (await flow.repositories())[0]
    assert row.registry_type == "ghcr" and row.credential_expires_at is not None
    assert row.credential_expires_at.date().isoformat() == "2026-12-24"

    # A read-only token: the test names the scope it lacks, the account stays.
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "acme/web", "Change account")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, account_values(view, *reader))
    failed = await flow.next_update()
    assert "write:packages" in texts(failed) and "not changed" in texts(failed)
    assert (await flow.repositories())[0].username == "octo"

    # A token that may push passes and replaces the account.
    await flow.submit(failed, account_values(failed, *pusher))
    changed = await flow.next_update()
    assert "Connection test passed" in texts(changed)
    assert (await flow.repositories())[0].username == "pusher"

    # Delete in IR with a token lacking delete:packages: nothing is removed.
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "acme/web", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    await flow.submit(view, ticked)
    kept = await flow.next_update()
    assert "delete:packages" in texts(kept) and "The entry stays in the list" in texts(kept)
    assert "acme/web" in github.packages and len(await flow.repositories()) == 1

    # Back to the owner's token, then deleted on GitHub and from the list.
    await flow.menu(blocks, "acme/web", "Change account")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, account_values(view, *octo))
    assert "Connection test passed" in texts(await flow.next_update())
    await flow.menu(blocks, "acme/web", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, ticked)
    done = await flow.next_update()
    assert "and in the image registry" in texts(done)
    assert "acme/web" not in github.packages and github.tags("acme/web") in (None, [])
    assert await flow.repositories() == []


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitLabStandIn]:
    skip_or_fail_without_registry()
    with GitLabStandIn(TestCA(), tmp_path_factory.mktemp("gitlab")).running() as standin:
        yield standin


async def test_delete_modal_says_a_deploy_token_cannot_delete(
    flow: Flow, gitlab: GitLabStandIn, secrets: list[str]
) -> None:
    deploy = gitlab.deploy
    secrets.append(deploy[1])
    gitlab.add_project("team/app")
    repository = gitlab.add_image("team/app", "api")
    await flow.create_project("gitlab-e2e")

    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", "gitlab")
    values = add_values(
        view, url=gitlab.registry_url, repository=repository, username=deploy[0], password=deploy[1]
    )
    await flow.submit(view, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository" in texts(saved), texts(saved)

    # Before confirming, the modal says the deploy token cannot delete, and offers no box.
    blocks = await flow.list_blocks()
    await flow.menu(blocks, repository, "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    assert "deploy token cannot use GitLab's API" in texts(view)
    assert not any(b.get("type") == "input" for b in view["blocks"])
    await flow.submit(view, {})
    done = await flow.next_update()
    assert "keeps the repository" in texts(done)
    assert await flow.repositories() == []
    assert gitlab.tags(repository) == ["latest"]
    assert gitlab.projects["team/app"].repositories  # nothing removed in GitLab
