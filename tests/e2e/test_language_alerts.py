"""Issue 23: a channel alert speaks the project's language (its creator's at `project
create`), whoever happens to be looking; the real server, scheduler and outbox sender."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.e2e.test_alerts import (  # the alert suite's real bot (re-check every second)
    alert_element,
    bot,
    command_reply,
    db,
    db_url,
    key,
    message,
    posts,
    saved_repository,
    slack,
    top_level,
    user,
)
from tests.support.registry_httpserver import free_port
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import SlackClient, button_action
from tests.support.waiting import wait_until

__all__ = ["bot", "db", "db_url", "key", "slack", "user"]  # fixtures, used by name

pytestmark = [pytest.mark.registry]


@pytest.mark.timeout(120)
async def test_a_channel_alert_in_a_korean_project_is_korean(
    slack: SlackApiStandIn,
    user: SlackClient,
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    slack.set_user("U1", locale="ko-KR", tz="Asia/Seoul")
    reply = await command_reply(user, slack, "project create hangul-alerts")
    assert "관리자입니다" in reply
    # Nothing listens on this port: every re-check fails, and the second one alerts.
    await saved_repository(db, key, "CALERTS", f"http://127.0.0.1:{free_port()}")

    async def alerted() -> bool:
        return len(top_level(slack, "CALERTS")) >= 1

    await wait_until(alerted, "the alert")
    alert = top_level(slack, "CALERTS")[0]
    text = str(alert.params["text"])
    assert text.startswith(":red_circle: `http://127.0.0.1:") and "의 `team/app` 연결이 " in text, (
        text
    )
    assert "부터 실패하고 있습니다 (" in text and "is failing" not in text, text
    blocks = str(alert.params["blocks"])
    assert "'연결 테스트'" in blocks and "'계정 변경'" in blocks and "'1시간'" in blocks
    assert "최근 오류 (레지스트리 응답):" in blocks

    # Connection Test from the alert, clicked by an English reader: its result is a
    # reply in the channel, so it speaks the project's language too.
    slack.set_user("UENALERT", locale="en-US")
    block_id, button = alert_element(
        message(slack, str(alert.response["ts"])), "alert_test_in_thread"
    )
    await user.action(
        [button_action("alert_test_in_thread", block_id, value=button["value"])],
        message=message(slack, str(alert.response["ts"])),
        channel_id="CALERTS",
        user_id="UENALERT",
    )

    async def replied() -> bool:
        return any(
            "연결 테스트를 실행했습니다" in c.params["text"] for c in posts(slack, "CALERTS")
        )

    await wait_until(replied, "the Korean test result in the thread")
