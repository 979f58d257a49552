"""`project create` binds a project to a channel: only a real channel id can hold one."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from bot.usecases import projects
from bot.usecases.actor import Actor
from bot.usecases.errors import InvalidInput, NoProject

ADMIN = Actor("T1", "UADMIN")


@pytest.mark.parametrize("channel_id", ["", "D0123ABC", "C-1", "c123", "C" + "1" * 40, "<#C1>"])
async def test_a_project_needs_a_channel_id_and_nothing_is_stored_without_one(
    rt: Runtime, channel_id: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await projects.create_project(rt, ADMIN, channel_id=channel_id, name="payments")
    assert "in a channel" in refused.value.message
    with pytest.raises(NoProject):
        await projects.get_project(rt, team_id="T1", channel_id=channel_id)


async def test_a_channel_id_as_slack_writes_it_holds_a_project(rt: Runtime) -> None:
    info = await projects.create_project(rt, ADMIN, channel_id="C0123ABCD", name="payments")
    assert info.name == "payments"
