"""Delete in IR tells the truth, through Slack and the real bot (issue 18, finding 4): a
registry whose tag list is a web page with 200 deletes nothing, so the entry stays in the
list, the modal says why, and the audit records the attempt as failed, not `ok`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import add_values
from tests.support.hostile_registry import HostileRegistry
from tests.support.registry_httpserver import Request, Response
from tests.support.slack_requests import checkboxes_value, values_by_label

USER, SECRET = "dana", "e2e-delete-truth-s3cret"
LOGIN_PAGE = Response.text(200, "<html><body>Please sign in</body></html>", "text/html")


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry(host="127.0.0.2", username=USER, secret=SECRET) as server:
        yield server


async def delete_audits(flow: Flow) -> list[tuple[str, str, str | None]]:
    from storage.models import AuditRecord

    async def rows(session: Any) -> list[tuple[str, str, str | None]]:
        found = await session.execute(
            select(AuditRecord.action, AuditRecord.outcome, AuditRecord.target_repository).where(
                AuditRecord.action.like("delete%")
            )
        )
        return [tuple(r) for r in found.all()]

    return await flow.db(rows)


async def test_an_unreadable_tag_list_keeps_the_entry_and_says_why(
    flow: Flow, hostile: HostileRegistry, secrets: list[str]
) -> None:
    secrets.append(SECRET)
    await flow.create_project("truth-e2e")
    view = await flow.open_modal("add")
    values = add_values(
        view, url=hostile.url, repository="team/app", username=USER, password=SECRET
    )
    await flow.submit(view, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository" in texts(saved), texts(saved)
    await flow.next_call("chat.postMessage")

    def html_tag_list(request: Request) -> Response | None:
        authorized = request.headers.get("authorization")
        return LOGIN_PAGE if request.raw_path.endswith("/tags/list") and authorized else None

    hostile.override = html_tag_list
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "team/app", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    await flow.submit(view, ticked)
    kept = await flow.next_update()

    shown = texts(kept)
    assert "The entry stays in the list" in shown, shown
    assert "tag list of team/app could not be read" in shown
    assert "Deleted" not in shown
    assert [r.repository for r in await flow.repositories()] == ["team/app"]
    assert not [r for r in hostile.requests if "/manifests/" in r.raw_path]
    assert "`team/app`" in texts(await flow.list_blocks())
    audits = await delete_audits(flow)
    assert ("delete-in-ir", "failed", "team/app") in audits, audits
    assert not [a for a in audits if a[1] == "ok"]
