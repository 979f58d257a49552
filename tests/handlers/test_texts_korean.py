"""A Korean reader's Connection Test result and "something went wrong" reply (issue 23):
the bot's own words are Korean, what the registry said stays as written, and an English
reader keeps today's text word for word."""

from __future__ import annotations

import re

from handlers.ui import common
from handlers.ui.i18n import ENGLISH, KOREAN, translate, using
from handlers.ui.registry_words import ERROR_KIND_WORDS, STEP_FAILED_WORDS
from registry.errors import ErrorKind
from registry.results import STEP_FAILED, CheckStep, ConnectionTestResult

SERVER_SAID = "Harbor at https://harbor.example rejected the username or password for admin."


def failed_sign_in() -> ConnectionTestResult:
    """What registry/service.py returns when the registry refuses the password."""
    return ConnectionTestResult(
        steps=(
            CheckStep("reachable", True, "HTTP 401 from /v2/"),
            CheckStep("authenticated", False, SERVER_SAID),
            CheckStep("pull", False, "not tested: an earlier step failed", skipped=True),
        ),
        error_kind=ErrorKind.AUTHENTICATION_FAILED,
        message=f"Sign-in failed: {SERVER_SAID}",
        latency_ms=12.0,
        round_trips=2,
    )


def test_a_korean_reader_sees_the_failed_steps_words_in_korean() -> None:
    with using(KOREAN):
        text = common.test_result_text(failed_sign_in())
    first = text.splitlines()[0]
    assert first == (
        ":x: *연결 테스트 실패* (*로그인* 단계) (인증 실패): 로그인 실패 — 레지스트리 응답: "
        + SERVER_SAID
    )
    assert ":heavy_minus_sign: Pull 권한 — 테스트하지 않음: 앞 단계가 실패했습니다" in text
    assert "Sign-in failed" not in text and "authentication failed" not in text
    assert ":white_check_mark: 레지스트리 접속 — HTTP 401 from /v2/" in text  # the server's


def test_an_english_reader_keeps_todays_result_word_for_word() -> None:
    with using(ENGLISH):
        text = common.test_result_text(failed_sign_in())
    assert text.splitlines() == [
        ":x: *Connection test failed* at *Signed in* (authentication failed): "
        f"Sign-in failed: {SERVER_SAID}",
        ":white_check_mark: Registry reachable — HTTP 401 from /v2/",
        f":x: Signed in — {SERVER_SAID}",
        ":heavy_minus_sign: Pull access — not tested: an earlier step failed",
    ]


def test_every_lead_in_and_error_kind_of_registry_has_its_words() -> None:
    """A new step or kind in registry/ without words here would stay English in Korean."""
    assert STEP_FAILED_WORDS == STEP_FAILED
    assert {kind.value for kind in ErrorKind} <= set(ERROR_KIND_WORDS)
    for kind, words in ERROR_KIND_WORDS.items():
        assert words == kind.replace("_", " ")  # the English a reader saw before


def test_something_went_wrong_is_korean_and_keeps_the_request_id() -> None:
    with using(KOREAN):
        korean = common.went_wrong()
    assert re.fullmatch(
        r"봇 쪽에서 문제가 발생했습니다 \(요청 ID `[^`]+`로 기록했습니다\)\. 다시 시도하세요\.",
        korean,
    ), korean
    with using(ENGLISH):
        english = common.went_wrong()
    assert re.fullmatch(
        r"Something went wrong on our side \(it was logged with request id `[^`]+`\)\. Try again\.",
        english,
    ), english


def test_use_case_sentences_with_values_are_korean_and_keep_the_values() -> None:
    """ "At most N characters." and the duplicate project name: the translated template,
    filled with the use case's own values; English (and unknown sentences) unchanged."""
    duplicate = "A project named 'team-a' exists already in another channel."
    with using(KOREAN):
        assert translate("At most 2048 characters.") == "최대 2048자까지 입력할 수 있습니다."
        assert translate(duplicate) == "이름이 'team-a'인 프로젝트가 이미 다른 채널에 있습니다."
        assert (
            translate("No project named 'x' in this workspace.")
            == "이 워크스페이스에 이름이 'x'인 프로젝트가 없습니다."
        )
        assert translate("The registry said no.") == "The registry said no."  # a server's
    with using(ENGLISH):
        assert translate("At most 2048 characters.") == "At most 2048 characters."
        assert translate(duplicate) == duplicate
