"""Amazon ECR from Slack: add (choose the type, Connection Test, Save), then delete in IR,
through signed requests to the real bot process, with moto as the ECR API and a real
docker-registry that takes moto's minted password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.flow import Flow, bot_process, texts
from tests.e2e.helpers import add_values
from tests.support.bot_process import BotProcess
from tests.support.cloud_ecr import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    EcrStandIn,
    open_ecr,
)
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import checkboxes_value, values_by_label

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def ecr_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EcrStandIn]:
    with open_ecr(Path(tmp_path_factory.mktemp("ecr"))) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def bot(
    standin: SlackApiStandIn,
    database_url_e2e: str,
    tmp_path_factory: pytest.TempPathFactory,
    ecr_module: EcrStandIn,
) -> Iterator[BotProcess]:
    """The bot, with boto3 pointed at moto the standard way (AWS_ENDPOINT_URL_*)."""
    env = dict(ecr_module.env())
    env["AWS_CONFIG_FILE"] = str(tmp_path_factory.mktemp("aws") / "none")
    with bot_process(standin, database_url_e2e, tmp_path_factory, extra_env=env) as process:
        yield process


async def test_ecr_add_test_save_and_delete_in_ir(
    flow: Flow, ecr_module: EcrStandIn, secrets: list[str]
) -> None:
    ecr = ecr_module
    secrets.extend([SECRET_ACCESS_KEY, ecr.password])
    ecr.client().create_repository(repositoryName="shop/api")
    ecr.registry.client("AWS", ecr.password).push_image("shop/api")
    await flow.create_project("ecr-e2e")

    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", "ecr")
    assert "Amazon ECR" in texts(view) and "access key id" in texts(view)
    values = add_values(
        view,
        url=ecr.registry.url,
        repository="shop/api",
        username=ACCESS_KEY_ID,
        password=SECRET_ACCESS_KEY,
    )
    await flow.click(view, "Connection Test", values)
    await flow.next_update()  # "Testing the connection"
    passed = await flow.next_update()
    assert "Connection test passed" in texts(passed), texts(passed)
    assert "ecr:GetAuthorizationToken" in texts(passed)

    answer = await flow.submit(passed, values)
    assert "Saved the app repository `shop/api`" in texts(answer["view"])
    await flow.next_call("chat.postMessage")
    rows = await flow.repositories()
    assert [(r.registry_type, r.username) for r in rows] == [("ecr", ACCESS_KEY_ID)]
    assert SECRET_ACCESS_KEY not in (rows[0].secret_ciphertext or "")

    blocks = await flow.list_blocks()
    assert "Amazon ECR" in texts(blocks)
    await flow.menu(blocks, "shop/api", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    await flow.submit(view, ticked)
    done = await flow.next_update()
    assert "and in the image registry" in texts(done), texts(done)
    assert "shop/api" not in ecr.repositories()  # DeleteRepository reached the ECR API
    assert await flow.repositories() == []
