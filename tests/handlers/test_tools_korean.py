"""`/imagerepo tools`, the tool form and the Grants modal for a Korean workspace admin
(issue 23): the bot's words are Korean; an English admin keeps today's text."""

from __future__ import annotations

import json
from typing import Any

from bot.usecases.tools import GrantInfo, ToolGrants, ToolInfo, ToolPage
from handlers.ui import tools as ui
from handlers.ui.i18n import ENGLISH, KOREAN, using
from registry import TYPES
from tests.support import catalog

HARBOR = ToolInfo(
    id=3,
    name="harbor-main",
    url="https://harbor.example",
    username="admin",
    tls_verify=True,
    has_ca_bundle=False,
    repositories=2,
)


def words(value: Any) -> str:
    """Every text a person reads in a view or blocks, as one string."""
    data = value.to_dict() if hasattr(value, "to_dict") else [b.to_dict() for b in value]
    return json.dumps(data, ensure_ascii=False)


def test_the_tools_view_is_korean_for_a_korean_admin() -> None:
    page = ToolPage((HARBOR,), 1, 1, 1)
    with using(KOREAN):
        blocks = ui.tools_blocks(page, is_admin=True)
        summary = ui.tools_text(page)
    said = words(blocks)
    assert summary == "등록된 도구 1개 (1페이지 중 1페이지)"
    assert "*등록된 도구 (Harbor, GitLab 및 Quay 인스턴스)*" in said
    assert "계정 admin  ·  TLS 검증  ·  이미지 저장소 2개에서 사용" in said
    for menu in ("연결 테스트", "수정", "권한 부여", "삭제"):
        assert f'"text": "{menu}"' in said
    assert "Harbor, GitLab 또는 Quay 등록" in said
    assert "Register" not in said and "Grants" not in said


def test_the_tool_modals_are_korean_and_english_stays_word_for_word() -> None:
    grants = ToolGrants(HARBOR, (GrantInfo(1, "team-a-project", "team-a", "U1"),))
    with using(KOREAN):
        form = ui.tool_modal(None).to_dict()
        edit = ui.tool_modal(HARBOR).to_dict()
        remove = ui.tool_remove_modal(HARBOR).to_dict()
        granted = ui.tool_grants_modal(grants).to_dict()
    assert form["title"]["text"] == "Harbor 등록" and form["submit"]["text"] == "저장"
    assert '"text": "도구 유형"' in json.dumps(form, ensure_ascii=False)
    assert "Harbor 인스턴스 (레지스트리와 API가 이 URL을 함께 씁니다)." in json.dumps(
        form, ensure_ascii=False
    )
    assert edit["title"]["text"] == "Harbor 수정"
    assert "도구 유형: *Harbor* (바꿀 수 없습니다)." in json.dumps(edit, ensure_ascii=False)
    assert remove["title"]["text"] == "Harbor 삭제" and remove["submit"]["text"] == "삭제"
    assert "저장된 이미지 저장소 2개가 이 도구를 사용합니다" in json.dumps(
        remove, ensure_ascii=False
    )
    assert granted["title"]["text"] == "도구 권한 부여"
    assert granted["submit"]["text"] == "권한 부여"
    granted_text = json.dumps(granted, ensure_ascii=False)
    assert "<@U1> 님이 권한 부여" in granted_text and "네임스페이스" in granted_text
    assert "Harbor 프로젝트: team-a는 team-a/...를" in granted_text

    with using(ENGLISH):
        english = ui.tool_grants_modal(grants).to_dict()
        page = ToolPage((HARBOR,), 1, 1, 1)
        listed = words(ui.tools_blocks(page, is_admin=True))
        english_form = ui.tool_modal(None).to_dict()
    assert english["title"]["text"] == "Tool grants" and english["submit"]["text"] == "Add grant"
    assert "*Registered tools (Harbor, GitLab and Quay instances)*" in listed
    assert "account admin  ·  TLS verified  ·  used by 2 repositories" in listed
    assert english_form["title"]["text"] == "Register Harbor"
    assert "It is tested with its account before it is saved." in json.dumps(english_form)


def test_every_text_of_the_type_table_is_a_msgid() -> None:
    """A text added to a row of registry/kinds.py without `N_` would stay English (the
    catalog check then makes sure each msgid has its Korean entry)."""
    marked = catalog.extracted()
    for info in TYPES:
        texts = [info.new_repository_hint, info.existing_repository_hint, info.name_rule]
        if info.tool is not None:
            kind = info.tool
            texts += [kind.url_hint, kind.namespace, kind.token_hint, kind.tool_hint]
            texts += [kind.choose, kind.none_registered, kind.namespace_picker or ""]
        for text in texts:
            assert not text or text in marked, text
