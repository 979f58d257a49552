"""Every rule of the limits table bites: one over its bound is refused, at the bound passes.

The cases are generated from ``RULES``, so a rule added to the table is tested
without touching this file (and one whose node has no template here fails loudly).
Rules the walker cannot express as one field (``special``) have their own tests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.slack_api import (
    SlackApiStandIn,
    validate_blocks,
    validate_message,
    validate_options_answer,
    validate_response_action,
    validate_view,
)
from tests.support.slack_limits import RULES, Rule, rule, tag

JsonDict = dict[str, Any]


def pt(text: str) -> JsonDict:
    return {"type": "plain_text", "text": text}


def md(text: str) -> JsonDict:
    return {"type": "mrkdwn", "text": text}


def option(value: str) -> JsonDict:
    return {"text": pt(f"Option {value}"), "value": value}


def section(block_id: str = "s") -> JsonDict:
    return {"type": "section", "block_id": block_id, "text": md("hello")}


def button(action_id: str) -> JsonDict:
    return {"type": "button", "action_id": action_id, "text": pt("Go")}


def modal(*blocks: JsonDict) -> JsonDict:
    return {
        "type": "modal",
        "title": pt("Title"),
        "submit": pt("Save"),
        "close": pt("Cancel"),
        "blocks": list(blocks) or [section()],
    }


def input_block(element: JsonDict) -> JsonDict:
    return {"type": "input", "block_id": "i", "label": pt("Label"), "element": element}


@dataclass
class Case:
    """A valid payload, the node inside it a rule applies to, and how to validate it."""

    root: JsonDict
    node: JsonDict
    validate: Callable[[JsonDict], list[str]]


def _view_errors(root: JsonDict) -> list[str]:
    return validate_view(root)


def _message_errors(root: JsonDict) -> list[str]:
    # chat.update: chat.postMessage truncates a long text instead (see its own test)
    refused = validate_message(root, method="chat.update")
    return [] if refused is None else refused[1]


def _options_errors(root: JsonDict) -> list[str]:
    return validate_options_answer(root)


def _in_modal(block: JsonDict, node: JsonDict | None = None) -> Case:
    root = modal(block)
    return Case(root, node if node is not None else block, _view_errors)


def template(where: str) -> Case:
    """A minimal valid payload holding one node of kind ``where``."""
    if where == "view:modal":
        root = modal()
        return Case(root, root, _view_errors)
    if where == "view:home":
        root = {"type": "home", "blocks": [section()]}
        return Case(root, root, _view_errors)
    if where == "message":
        root = {"channel": "C1", "text": "hi", "blocks": [section()]}
        return Case(root, root, _message_errors)
    if where == "block_suggestion":
        root = {"options": [option("a")]}
        return Case(root, root, _options_errors)
    if where in ("block", "section", "text_object"):
        block = section()
        return _in_modal(block, block["text"] if where == "text_object" else block)
    if where == "section_field":
        block = {"type": "section", "block_id": "f", "fields": [md("field")]}
        return _in_modal(block, block["fields"][0])
    if where == "header":
        return _in_modal({"type": "header", "block_id": "h", "text": pt("Header")})
    if where == "context":
        return _in_modal({"type": "context", "block_id": "c", "elements": [md("context")]})
    if where in ("actions", "element", "button"):
        block = {"type": "actions", "block_id": "a", "elements": [button("b0")]}
        return _in_modal(block, block if where == "actions" else block["elements"][0])
    if where in ("option", "overflow"):
        overflow = {"type": "overflow", "action_id": "o", "options": [option("a"), option("b")]}
        block = {**section("o"), "accessory": overflow}
        return _in_modal(block, overflow["options"][0] if where == "option" else overflow)
    if where == "option_group":
        group = {"label": pt("Group"), "options": [option("a")]}
        select = {"type": "static_select", "action_id": "g", "option_groups": [group]}
        return _in_modal({**section("g"), "accessory": select}, group)
    if where == "static_select":
        select = {
            "type": "static_select",
            "action_id": "ss",
            "placeholder": pt("Pick"),
            "options": [option("a")],
        }
        return _in_modal({**section("ss"), "accessory": select}, select)
    if where == "external_select":
        select = {"type": "external_select", "action_id": "es", "placeholder": pt("Search")}
        return _in_modal(input_block(select), select)
    if where in ("checkboxes", "radio_buttons"):
        element = {"type": where, "action_id": "c", "options": [option("a")]}
        return _in_modal(input_block(element), element)
    if where == "input":
        return _in_modal(input_block({"type": "plain_text_input", "action_id": "p"}))
    if where == "plain_text_input":
        element = {"type": "plain_text_input", "action_id": "p", "placeholder": pt("Type")}
        return _in_modal(input_block(element), element)
    raise KeyError(f"no template for rule target {where!r}: add one to test the rule")


ITEM_FACTORIES: dict[str, Callable[[int], list[Any]]] = {
    "blocks": lambda n: [section(f"b{i}") for i in range(n)],
    "fields": lambda n: [md(f"f{i}") for i in range(n)],
    "options": lambda n: [option(f"v{i}") for i in range(n)],
    "option_groups": lambda n: [
        {"label": pt(f"G{i}"), "options": [option(f"g{i}")]} for i in range(n)
    ],
}


def _items(r: Rule, n: int) -> list[Any]:
    if r.field == "elements":
        if r.where == "context":
            return [md(f"e{i}") for i in range(n)]
        return [button(f"b{i}") for i in range(n)]
    return ITEM_FACTORIES[r.field](n)


def _value(r: Rule, n: int) -> Any:
    if r.check == "chars":
        return "x" * n
    if r.check == "items":
        return _items(r, n)
    return n


def _set(node: JsonDict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, pt("x") if part != "text" else md("x"))
    node[last] = value


def _case_with(r: Rule, size: int) -> tuple[JsonDict, Callable[[JsonDict], list[str]]]:
    case = template(r.where)
    if r.field == "option_groups":
        case.node.pop("options", None)
    if r.field == "options" and r.where == "static_select":
        case.node.pop("option_groups", None)
    _set(case.node, r.field, _value(r, size))
    return copy.deepcopy(case.root), case.validate


FIELD_RULES = [r for r in RULES if r.check != "special"]
BOUNDS = [(r, "max") for r in FIELD_RULES if r.max is not None] + [
    (r, "min") for r in FIELD_RULES if r.min is not None
]


@pytest.mark.parametrize(("r", "bound"), BOUNDS, ids=[f"{r.key}-{bound}" for r, bound in BOUNDS])
def test_rule_accepts_its_bound_and_refuses_one_beyond(r: Rule, bound: str) -> None:
    limit = r.max if bound == "max" else r.min
    assert limit is not None
    beyond = limit + 1 if bound == "max" else limit - 1

    root, validate = _case_with(r, limit)
    assert validate(root) == [], f"{r.key} at its {bound} ({limit}) must pass"

    root, validate = _case_with(r, beyond)
    errors = validate(root)
    assert any(tag(r.key) in e for e in errors), (r.key, beyond, errors)


def test_every_rule_cites_a_slack_reference_page() -> None:
    for r in RULES:
        assert r.source.startswith(
            (
                "https://docs.slack.dev/reference/",
                "https://docs.slack.dev/surfaces/",
                "https://docs.slack.dev/interactivity/",
            )
        ) or r.source.startswith("https://api.slack.com/reference/"), r


def test_the_secret_input_limit_is_slacks() -> None:
    """The issue that started this: max_length 4096 is refused, 3000 passes."""
    element = {"type": "plain_text_input", "action_id": "secret", "max_length": 4096}
    errors = validate_view(modal(input_block(element)))
    assert any(tag("plain_text_input.max_length") in e for e in errors), errors
    element["max_length"] = 3000
    assert validate_view(modal(input_block(element))) == []


# -- special rules -------------------------------------------------------------


def test_block_ids_are_unique_per_view_and_message() -> None:
    errors = validate_blocks([section("same"), section("same")])
    assert any(tag("block.block_id_unique") in e for e in errors), errors
    assert validate_blocks([section("one"), section("two")]) == []


def test_action_ids_are_unique_within_a_block_only() -> None:
    """The docs ask for uniqueness "among all other action_ids in the containing block"."""
    same_block = {"type": "actions", "block_id": "a", "elements": [button("x"), button("x")]}
    errors = validate_blocks([same_block])
    assert any(tag("element.action_id_unique") in e for e in errors), errors
    two_blocks = [
        {"type": "actions", "block_id": "a", "elements": [button("x")]},
        {"type": "actions", "block_id": "b", "elements": [button("x")]},
    ]
    assert validate_blocks(two_blocks) == []


@pytest.mark.parametrize(
    ("element", "ok"),
    [
        ({"max_length": 5, "initial_value": "x" * 5}, True),
        ({"max_length": 5, "initial_value": "x" * 6}, False),
        ({"min_length": 3, "initial_value": "xx"}, False),
        ({"min_length": 3, "initial_value": "xxx"}, True),
        ({"min_length": 10, "max_length": 5}, False),
        ({"initial_value": "x" * 3000}, True),
        ({"initial_value": "x" * 3001}, False),
    ],
)
def test_initial_value_stays_inside_the_inputs_bounds(element: JsonDict, ok: bool) -> None:
    view = modal(input_block({"type": "plain_text_input", "action_id": "p", **element}))
    errors = validate_view(view)
    if ok:
        assert errors == []
    else:
        assert any(tag("plain_text_input.initial_value") in e for e in errors), errors


def test_response_action_errors_name_input_blocks_of_the_view() -> None:
    view = modal(section("intro"), input_block({"type": "plain_text_input", "action_id": "p"}))
    assert (
        validate_response_action({"response_action": "errors", "errors": {"i": "Bad"}}, view) == []
    )
    assert validate_response_action({}, view) == []  # closes the modal
    for answer, key in (
        ({"response_action": "errors", "errors": {"intro": "Bad"}}, "response_action.errors"),
        ({"response_action": "errors", "errors": {"nope": "Bad"}}, "response_action.errors"),
        ({"response_action": "errors", "errors": {}}, "response_action.errors"),
        ({"response_action": "errors", "errors": {"i": ""}}, "response_action.errors"),
        ({"response_action": "close"}, "response_action.kind"),
        ({"response_action": "update"}, "response_action.view"),
    ):
        problems = validate_response_action(answer, view)
        assert any(tag(key) in p for p in problems), (answer, problems)
    too_long = modal()
    too_long["title"] = pt("x" * 25)
    problems = validate_response_action({"response_action": "update", "view": too_long}, view)
    assert any(tag("modal.title") in p for p in problems), problems


def test_a_message_needs_text_blocks_or_attachments() -> None:
    assert validate_message({"channel": "C1"}) is not None
    refused = validate_message({"channel": "C1"})
    assert refused is not None and refused[0] == "no_text"
    assert validate_message({"channel": "C1", "blocks": [section()]}) is None
    assert validate_message({"channel": "C1", "ts": "1.2"}, method="chat.update") is None


def test_thread_ts_must_name_a_top_level_message_of_the_channel(
    standin: SlackApiStandIn,
) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.base_url, retry_handlers=[])
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    reply = client.chat_postMessage(channel="C1", text="reply", thread_ts=parent)["ts"]
    assert standin.violations == []
    for channel, thread_ts in (("C1", "1.000001x"), ("C2", parent), ("C1", reply)):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel=channel, text="x", thread_ts=thread_ts)
        assert raised.value.response["error"] == "invalid_arguments"
    assert len(standin.violations) == 3
    assert all(tag("chat.postMessage.thread_ts") in v.errors[0] for v in standin.violations)


def test_chat_update_needs_an_existing_message(standin: SlackApiStandIn) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.base_url, retry_handlers=[])
    ts = client.chat_postMessage(channel="C1", text="first")["ts"]
    client.chat_update(channel="C1", ts=ts, text="second")
    assert standin.messages[0]["text"] == "second"
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C1", ts="9.9", text="x")
    assert raised.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C1", ts=ts, text="x", blocks=[section("a"), section("a")])
    assert raised.value.response["error"] == "invalid_blocks"


def test_views_update_needs_a_target_and_the_current_hash(standin: SlackApiStandIn) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.base_url, retry_handlers=[])
    opened = client.views_open(trigger_id="t1", view=modal())["view"]
    with pytest.raises(SlackApiError) as raised:
        client.api_call("views.update", json={"view": modal()})  # slack_sdk would refuse
    assert raised.value.response["error"] == "invalid_arguments"
    assert tag("views.update.target") in raised.value.response["errors"][0]
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id=opened["id"], hash="1.stale", view=modal())
    assert raised.value.response["error"] == "hash_conflict"
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    assert updated["view"]["hash"] != opened["hash"]


def test_rule_lookup_by_key() -> None:
    assert rule("plain_text_input.max_length").max == 3000
    assert rule("message.blocks").max == 50
    with pytest.raises(KeyError):
        rule("no.such.rule")


@pytest.mark.parametrize(
    ("element", "ok"),
    [
        ({"type": "static_select", "options": [option("a")], "initial_option": option("a")}, True),
        ({"type": "static_select", "options": [option("a")], "initial_option": option("b")}, False),
        (
            {
                "type": "static_select",
                "option_groups": [{"label": pt("G"), "options": [option("a")]}],
                "initial_option": option("a"),
            },
            True,
        ),
        ({"type": "radio_buttons", "options": [option("a")], "initial_option": option("z")}, False),
        ({"type": "checkboxes", "options": [option("a")], "initial_options": [option("a")]}, True),
        ({"type": "checkboxes", "options": [option("a")], "initial_options": [option("q")]}, False),
        # the text must match too, not only the value
        (
            {
                "type": "static_select",
                "options": [option("a")],
                "initial_option": {"text": pt("Other"), "value": "a"},
            },
            False,
        ),
    ],
)
def test_initial_option_must_be_one_of_the_options(element: JsonDict, ok: bool) -> None:
    element = {"action_id": "s", **element}
    if element["type"] == "static_select":
        element["placeholder"] = pt("Choose")
    errors = validate_view(modal(input_block(element)))
    assert (errors == []) is ok, errors
    assert ok or any(tag("select.initial_option") in e for e in errors)


def test_a_block_suggestion_answer_holds_at_most_100_options() -> None:
    assert validate_options_answer({"options": [option(f"v{i}") for i in range(100)]}) == []
    too_many = validate_options_answer({"options": [option(f"v{i}") for i in range(101)]})
    assert any(tag("block_suggestion.options") in e for e in too_many)


def test_chat_post_message_truncates_a_long_text(standin: SlackApiStandIn) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.base_url, retry_handlers=[])
    client.chat_postMessage(channel="C1", text="x" * 40_500)
    assert standin.violations == []
    assert len(standin.messages[0]["text"]) == 40_000


def test_a_response_url_takes_five_messages(standin: SlackApiStandIn) -> None:
    import httpx

    url = standin.new_response_url()
    answers = [httpx.post(url, json={"text": f"m{i}"}).json() for i in range(6)]
    assert [a["ok"] for a in answers] == [True] * 5 + [False]
    assert answers[5]["error"] == "used_url"
    assert len(standin.violations) == 1
    other = standin.new_response_url()
    assert httpx.post(other, json={"text": "fresh"}).json()["ok"] is True
