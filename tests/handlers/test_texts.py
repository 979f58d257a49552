"""Counts and failed steps read as sentences (issue 19, 4)."""

from __future__ import annotations

from bot.usecases.checks import CheckSummary
from handlers.ui.channel import plural
from handlers.ui.repository_list import check_summary_text, list_text
from registry.results import step_failed
from tests.handlers.test_views_worst_case import page


def test_counts_have_plural_forms() -> None:
    assert plural(1, "image repository") == "1 image repository"
    assert plural(2, "image repository") == "2 image repositories"
    assert plural(1, "failed check") == "1 failed check"
    assert plural(2, "failed check") == "2 failed checks"
    assert plural(1_000, "record") == "1,000 records"
    assert plural(0, "day") == "0 days"
    assert list_text("p", page(1, total=1)).startswith("1 image repository in p ")
    assert list_text("p", page(1, total=2)).startswith("2 image repositories in p ")


def test_check_summary_counts_read_as_english() -> None:
    one = CheckSummary(total=1, healthy=1, failing=(), by_error_kind={})
    assert check_summary_text(one) == ":large_green_circle: The connection passed."
    many = CheckSummary(total=3, healthy=3, failing=(), by_error_kind={})
    assert check_summary_text(many) == ":large_green_circle: All 3 connections passed."


def test_a_failed_step_is_said_in_words() -> None:
    assert step_failed("reachable") == "Not reachable"
    assert step_failed("authenticated") == "Sign-in failed"
    assert step_failed("pull") == "Pull failed"
    assert step_failed("push") == "Push failed"
