"""Issue 23 end to end: each person is answered in their Slack language, channel
messages in the project's. The real server, signed requests, the Slack stand-in
telling `users.info` locales (`user.locale` only with `include_locale=true`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.ui.help import HELP
from tests.e2e.flow import Flow, labels, texts
from tests.e2e.helpers import add_values
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import (
    find_input,
    plain_text_value,
    static_select_value,
    values_by_label,
)

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))
KO, EN = "UKO23", "UEN23"


@pytest.fixture
def people(standin: SlackApiStandIn) -> None:
    standin.set_user(KO, name="jiyeon", locale="ko-KR", tz="Asia/Seoul")
    standin.set_user(EN, name="alex", locale="en-US", tz="America/New_York")


def _ack_text(response: Any) -> str:
    """An ack with only `text` is answered as that text (Bolt), else as JSON."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return str(json.loads(response.text)["text"])
    return str(response.text)


async def test_help_is_korean_for_a_korean_user_and_todays_english_for_others(
    flow: Flow, standin: SlackApiStandIn, people: None
) -> None:
    korean = _ack_text(await flow.command("help", user_id=KO))
    assert korean.startswith(
        "*`/imagerepo`는 이 채널 프로젝트의 컨테이너 이미지 저장소를 관리합니다.*"
    )
    assert "`/imagerepo add-pull`: pull 전용 이미지 저장소를 추가합니다" in korean
    assert "`/imagerepo project language ko|en`" in korean  # command words stay English
    assert _ack_text(await flow.command("help", user_id=EN)) == HELP
    unknown = _ack_text(await flow.command("frobnicate", user_id=KO))
    assert unknown.startswith("`frobnicate`은(는) 알 수 없는 명령입니다.")
    # The locale is asked for the way Slack wants it (no `user.locale` without the flag),
    # in the one users.info call the actor costs, and remembered: a second command by
    # the same person makes no call at all.
    standin.set_user("UKOHELP", locale="ko-KR")
    before = len(standin.calls_to("users.info"))
    assert "도움말" in _ack_text(await flow.command("help", user_id="UKOHELP"))
    assert "도움말" in _ack_text(await flow.command("help", user_id="UKOHELP"))
    info = standin.calls_to("users.info")[before:]
    assert [c.params.get("user") for c in info] == ["UKOHELP"]
    assert str(info[0].params.get("include_locale")).lower() in ("true", "1")


async def test_project_create_list_and_add_modal_in_each_persons_language(
    flow: Flow, standin: SlackApiStandIn, registry: RegistryServer, people: None
) -> None:
    reply = await flow.command_reply("project create hangul-e2e", user_id=KO)
    assert "프로젝트 *hangul-e2e*이(가) 이제 이 채널에 연결되었습니다." in reply
    assert "<@UKO23> 님이 관리자입니다." in reply
    project_language = await flow.db(_language_of(flow.channel_id))
    assert project_language == "ko"  # the creator's language, for channel messages
    # A use case's sentence built with a value: the Korean template, the name as typed.
    taken = await flow.command_reply("project create hangul-e2e", user_id=KO, channel_id="C2OTHER")
    assert "이름이 'hangul-e2e'인 프로젝트가 이미 다른 채널에 있습니다." in taken
    taken_en = await flow.command_reply(
        "project create hangul-e2e", user_id=EN, channel_id="C2OTHER"
    )
    assert "A project named 'hangul-e2e' exists already in another channel." in taken_en

    # The list: Korean for the Korean user, today's English for the English one.
    korean_list = texts(await flow.list_blocks(user_id=KO))
    assert "*hangul-e2e의 이미지 저장소*" in korean_list
    assert (
        "아직 저장소가 없습니다: `/imagerepo add` (앱) 또는 `/imagerepo add-pull` (pull 전용)."
        in (korean_list)
    )
    english_list = texts(await flow.list_blocks(user_id=EN))
    assert "*Image repositories of hangul-e2e*" in english_list
    assert (
        "No repositories yet: `/imagerepo add` (app) or `/imagerepo add-pull` (pull-only)."
        in english_list
    )

    # The add modal: title, labels, buttons, a field error, a Connection Test result.
    view = await flow.open_modal("add", user_id=KO)
    assert view["title"]["text"] == "이미지 저장소 추가"
    assert view["submit"]["text"] == "저장" and view["close"]["text"] == "취소"
    assert labels(view)[:3] == ["저장소 유형", "저장소 생성 방식", "레지스트리 URL"]
    for label in ("저장소", "사용자 이름", "비밀번호 또는 액세스 토큰", "CA 번들 (PEM)", "옵션"):
        assert label in labels(view)
    assert "연결 테스트" in texts(view) and "URL 확인" in texts(view)
    assert "연결 테스트는 *pull과 push* 권한을 확인합니다 (CI가 여기로 push합니다)." in texts(view)

    def korean_values(url: str, password: str) -> dict[str, Any]:
        type_ref = find_input(view, "저장소 유형")
        return values_by_label(
            view,
            {
                "저장소 유형": static_select_value(type_ref.element["initial_option"]["value"]),
                "레지스트리 URL": plain_text_value(url),
                "저장소": plain_text_value("team/app"),
                "사용자 이름": plain_text_value(USER),
                "비밀번호 또는 액세스 토큰": plain_text_value(password),
            },
        )

    answer = await flow.submit(
        view, korean_values("ftp://registry.example.com", PASSWORD), user_id=KO
    )
    assert answer["response_action"] == "errors", texts(answer.get("view") or {})
    url_block = find_input(view, "레지스트리 URL").block_id
    assert answer["errors"][url_block].startswith("http:// 또는 https:// URL을 쓰세요.")

    await flow.click(
        view, "연결 테스트", korean_values(registry.url, "wrong-password-e2e-23"), user_id=KO
    )
    testing = await flow.next_update()
    assert ":hourglass_flowing_sand: 연결 테스트 중…" in texts(testing)
    failed = await flow.next_update()
    result = texts(failed)
    assert (
        ":x: *연결 테스트 실패* (*로그인* 단계) (인증 실패): 로그인 실패 — 레지스트리 응답:"
        in result
    )
    assert "Sign-in failed" not in result and "authentication failed" not in result
    assert ":white_check_mark: 레지스트리 접속" in result

    # The English user in the same workspace gets today's modal, word for word.
    english = await flow.open_modal("add", user_id=EN)
    assert english["title"]["text"] == "Add image repository"
    assert english["submit"]["text"] == "Save" and english["close"]["text"] == "Cancel"
    assert labels(english) == [
        "Repository type",
        "Repository creation",
        "Registry URL",
        "Repository",
        "Username",
        "Password or access token",
        "CA bundle (PEM)",
        "Options",
    ]
    values = add_values(
        english, url=registry.url, repository="team/app", username=USER, password="nope-23"
    )
    await flow.click(english, "Connection Test", values, user_id=EN)
    await flow.next_update()
    failed_en = texts(await flow.next_update())
    assert (
        ":x: *Connection test failed* at *Signed in* (authentication failed): Sign-in failed: "
        in (failed_en)
    )
    assert "레지스트리" not in failed_en and "연결" not in failed_en


async def test_a_project_admin_changes_the_projects_language_and_it_is_audited(
    flow: Flow, people: None
) -> None:
    await flow.create_project("lang-e2e", user_id=EN)
    assert await flow.db(_language_of(flow.channel_id)) == "en"
    refused = await flow.command_reply("project language ko", user_id=KO)
    assert refused.strip() == (
        "채널 메시지 언어 변경은 이 프로젝트의 관리자(또는 워크스페이스 관리자)만 할 수 있습니다. "
        "관리자에게 요청하거나 `/imagerepo project admin add`로 관리자로 추가해 달라고 요청하세요."
    )
    assert await flow.db(_language_of(flow.channel_id)) == "en"
    changed = await flow.command_reply("project language ko", user_id=EN)
    assert changed.strip() == "This project's channel messages are now in Korean."
    assert await flow.db(_language_of(flow.channel_id)) == "ko"
    bad = await flow.command_reply("project language fr", user_id=EN)
    assert "Say ko or en" in bad

    from sqlalchemy import select

    from storage.models import AuditRecord

    async def audited(session: Any) -> list[tuple[str, str | None, str]]:
        rows = await session.execute(
            select(AuditRecord.user_id, AuditRecord.detail, AuditRecord.outcome).where(
                AuditRecord.action == "project-language", AuditRecord.project == "lang-e2e"
            )
        )
        return [tuple(r) for r in rows.all()]

    records = await flow.db(audited)
    assert (EN, "ko", "ok") in records
    assert any(user == KO and outcome == "refused" for user, _detail, outcome in records)


def _language_of(channel_id: str) -> Any:
    async def read(session: Any) -> str:
        from storage import projects

        project = await projects.get_by_channel(session, "T1", channel_id)
        assert project is not None
        return str(project.language)

    return read


@pytest.mark.registry
async def test_a_korean_admin_deleting_an_entry_reads_the_done_notice_in_korean(
    flow: Flow, registry: RegistryServer, people: None
) -> None:
    """The modal's last word after a delete (or an account change) is the person's
    language too, its title included (it stayed English once)."""
    await flow.create_project("hangul-delete")
    assert "is now an admin" in await flow.command_reply(f"project admin add <@{KO}>")
    registry.client(USER, PASSWORD).push_image("hangul/gone")
    view = await flow.open_modal("add")
    values = add_values(
        view, url=registry.url, repository="hangul/gone", username=USER, password=PASSWORD
    )
    await flow.submit(view, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository" in texts(saved), texts(saved)

    await flow.menu(await flow.list_blocks(), "hangul/gone", "Delete", user_id=KO)
    delete_view = dict((await flow.next_call("views.open")).response["view"])
    assert delete_view["title"]["text"] == "이미지 저장소 삭제"
    await flow.submit(delete_view, values_by_label(delete_view, {}), user_id=KO)
    done = await flow.next_update()
    assert done["title"]["text"] == "이미지 저장소 삭제", done["title"]
    assert await flow.repositories() == []
