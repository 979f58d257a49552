"""The same bot on PostgreSQL: create a project, save, list and delete a repository."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers import ids
from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import add_values
from tests.support.databases import fresh_postgres_database
from tests.support.registry_httpserver import free_port
from tests.support.slack_requests import checkboxes_value, values_by_label

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database_url_e2e() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


async def test_smoke_on_postgresql(flow: Flow, secrets: list[str]) -> None:
    secrets.append("pg-smoke-password")
    await flow.create_project("pg-e2e")
    view = await flow.open_modal("add")
    values = add_values(
        view,
        url=f"http://127.0.0.1:{free_port()}",
        repository="pg/app",
        username="ci",
        password="pg-smoke-password",
        options=[ids.OPT_SAVE_UNHEALTHY],
    )
    await flow.submit(view, values)
    saved = await flow.next_update()
    assert "Saved the app repository `pg/app`" in texts(saved)
    assert "pg/app" in (await flow.next_call("chat.postMessage")).params["text"]
    blocks = await flow.list_blocks()
    assert "`pg/app`" in texts(blocks) and "failing" in texts(blocks)
    await flow.menu(blocks, "pg/app", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    await flow.submit(view, values_by_label(view, {"Image registry": checkboxes_value()}))
    done = await flow.next_update()
    assert "Deleted" in texts(done)
    assert await flow.repositories() == []
