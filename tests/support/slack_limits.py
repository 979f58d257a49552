"""Slack's documented limits, as one table the Web API stand-in enforces.

Every number the stand-in checks lives in ``RULES`` and nowhere else; each rule
cites the reference page that states it (docs.slack.dev, or api.slack.com where
the newer page dropped a number Slack still enforces). ``slack_sdk.models``
checks some of the same limits; the stand-in runs both, so an outdated or
missing check in slack_sdk cannot let a payload through.

Rules come in four kinds:

* ``chars``: the string at ``field`` (a dotted path inside the node) has
  ``min``..``max`` characters;
* ``items``: the list at ``field`` has ``min``..``max`` items;
* ``int``: the integer at ``field`` is within ``min``..``max``;
* ``special``: a rule the walker cannot express as one field (uniqueness,
  ``initial_value`` inside the input's bounds, ``response_action`` shapes, Web API
  arguments); the code that checks it reads its numbers and source from here.

``where`` names the node a rule applies to: a block or element ``type``,
``block`` (every block), ``element`` (every interactive element), ``text_object``
(``plain_text``/``mrkdwn``), ``option``, ``option_group``, ``view:modal``,
``view:home``, ``message`` (chat.postMessage/chat.update/response_url arguments)
or ``method:<name>``.

Errors name their rule as ``[rule:<key>]`` so a test can tell which one fired.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "RULES",
    "Rule",
    "check_node_rules",
    "check_rules",
    "check_value",
    "iter_nodes",
    "rule",
    "tag",
]

JsonDict = dict[str, Any]
Check = Literal["chars", "items", "int", "special"]

_REF = "https://docs.slack.dev/reference"
_BK = f"{_REF}/block-kit"
MODAL = f"{_REF}/views/modal-views"
HOME = f"{_REF}/views/home-tab-views"
BLOCKS = f"{_BK}/blocks"
SECTION = f"{_BK}/blocks/section-block"
HEADER = f"{_BK}/blocks/header-block"
CONTEXT = f"{_BK}/blocks/context-block"
ACTIONS = f"{_BK}/blocks/actions-block"
INPUT = f"{_BK}/blocks/input-block"
TEXT = f"{_BK}/composition-objects/text-object"
OPTION = f"{_BK}/composition-objects/option-object"
OPTION_GROUP = f"{_BK}/composition-objects/option-group-object"
BUTTON = f"{_BK}/block-elements/button-element"
SELECT = f"{_BK}/block-elements/select-menu-element"
OVERFLOW = f"{_BK}/block-elements/overflow-menu-element"
OVERFLOW_MIN = "https://api.slack.com/reference/block-kit/block-elements#overflow"
CHECKBOXES = f"{_BK}/block-elements/checkboxes-element"
RADIO = f"{_BK}/block-elements/radio-button-group-element"
PLAIN_INPUT = f"{_BK}/block-elements/plain-text-input-element"
MODALS_GUIDE = "https://docs.slack.dev/surfaces/modals"
POST_MESSAGE = f"{_REF}/methods/chat.postMessage"
CHAT_UPDATE = f"{_REF}/methods/chat.update"
VIEWS_UPDATE = f"{_REF}/methods/views.update"
VIEWS_OPEN = f"{_REF}/methods/views.open"
EXTERNAL_SELECT = f"{_BK}/block-elements/select-menu-element#external_select"
INTERACTION = "https://docs.slack.dev/interactivity/handling-user-interaction"


@dataclass(frozen=True)
class Rule:
    """One documented limit: where it applies, what it bounds, and the page that says so."""

    key: str
    where: str
    field: str
    check: Check
    max: int | None
    min: int | None
    source: str
    note: str = ""

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            bound = f"{self.min}..{self.max}"
        elif self.max is not None:
            bound = f"at most {self.max}"
        elif self.min is not None:
            bound = f"at least {self.min}"
        else:
            bound = self.note
        unit = {"chars": " characters", "items": " items", "int": "", "special": ""}[self.check]
        return f"{self.where} {self.field}: {bound}{unit}"


def _r(
    key: str,
    where: str,
    field: str,
    check: Check,
    max_: int | None,
    min_: int | None,
    source: str,
    note: str = "",
) -> Rule:
    return Rule(key, where, field, check, max_, min_, source, note)


RULES: tuple[Rule, ...] = (
    # -- surfaces -----------------------------------------------------------
    _r("modal.title", "view:modal", "title.text", "chars", 24, 1, MODAL),
    _r("modal.submit", "view:modal", "submit.text", "chars", 24, 1, MODAL),
    _r("modal.close", "view:modal", "close.text", "chars", 24, 1, MODAL),
    _r("modal.private_metadata", "view:modal", "private_metadata", "chars", 3000, None, MODAL),
    _r("modal.callback_id", "view:modal", "callback_id", "chars", 255, None, MODAL),
    _r("modal.external_id", "view:modal", "external_id", "chars", 255, None, VIEWS_UPDATE),
    _r("modal.blocks", "view:modal", "blocks", "items", 100, 1, MODAL),
    _r(
        "modal.submit_with_inputs",
        "view:modal",
        "submit",
        "special",
        None,
        None,
        MODAL,
        "submit is required when an input block is within the blocks array",
    ),
    _r("home.private_metadata", "view:home", "private_metadata", "chars", 3000, None, HOME),
    _r("home.callback_id", "view:home", "callback_id", "chars", 255, None, HOME),
    _r("home.external_id", "view:home", "external_id", "chars", 255, None, HOME),
    _r("home.blocks", "view:home", "blocks", "items", 100, 1, HOME),
    _r("message.blocks", "message", "blocks", "items", 50, None, BLOCKS),
    _r(
        "message.text",
        "message",
        "text",
        "chars",
        40_000,
        None,
        POST_MESSAGE,
        "chat.postMessage truncates a longer text to 40,000 characters (it is not refused); "
        "the stand-in refuses it elsewhere (chat.update, postEphemeral, response_url)",
    ),
    # -- every block / element ----------------------------------------------
    _r("block.block_id", "block", "block_id", "chars", 255, 1, INPUT),
    _r(
        "block.block_id_unique",
        "block",
        "block_id",
        "special",
        None,
        None,
        INPUT,
        "block_id should be unique for each message or view",
    ),
    _r("element.action_id", "element", "action_id", "chars", 255, 1, PLAIN_INPUT),
    _r(
        "element.action_id_unique",
        "element",
        "action_id",
        "special",
        None,
        None,
        PLAIN_INPUT,
        "should be unique among all other action_ids in the containing block",
    ),
    _r("text_object.text", "text_object", "text", "chars", 3000, 1, TEXT),
    # -- blocks -----------------------------------------------------------------
    _r("section.text", "section", "text.text", "chars", 3000, 1, SECTION),
    _r("section.fields", "section", "fields", "items", 10, 1, SECTION),
    _r("section.field_text", "section_field", "text", "chars", 2000, None, SECTION),
    _r("header.text", "header", "text.text", "chars", 150, 1, HEADER),
    _r("context.elements", "context", "elements", "items", 10, 1, CONTEXT),
    _r("actions.elements", "actions", "elements", "items", 25, 1, ACTIONS),
    _r("input.label", "input", "label.text", "chars", 2000, 1, INPUT),
    _r("input.hint", "input", "hint.text", "chars", 2000, None, INPUT),
    # -- composition objects ------------------------------------------------------
    _r("option.text", "option", "text.text", "chars", 75, 1, OPTION),
    _r("option.value", "option", "value", "chars", 150, 1, OPTION),
    _r("option.description", "option", "description.text", "chars", 75, None, OPTION),
    _r("option.url", "option", "url", "chars", 3000, None, OPTION),
    _r("option_group.label", "option_group", "label.text", "chars", 75, 1, OPTION_GROUP),
    _r("option_group.options", "option_group", "options", "items", 100, 1, OPTION_GROUP),
    # -- elements -----------------------------------------------------------------
    _r("button.text", "button", "text.text", "chars", 75, 1, BUTTON),
    _r("button.value", "button", "value", "chars", 2000, None, BUTTON),
    _r("button.url", "button", "url", "chars", 3000, None, BUTTON),
    _r("button.accessibility_label", "button", "accessibility_label", "chars", 75, None, BUTTON),
    _r("static_select.options", "static_select", "options", "items", 100, None, SELECT),
    _r("static_select.option_groups", "static_select", "option_groups", "items", 100, None, SELECT),
    _r(
        "static_select.placeholder", "static_select", "placeholder.text", "chars", 150, None, SELECT
    ),
    _r(
        "external_select.placeholder",
        "external_select",
        "placeholder.text",
        "chars",
        150,
        None,
        SELECT,
    ),
    _r("overflow.options", "overflow", "options", "items", 5, None, OVERFLOW),
    _r(
        "overflow.options_min",
        "overflow",
        "options",
        "items",
        None,
        2,
        OVERFLOW_MIN,
        "docs.slack.dev now says only 'up to five'",
    ),
    _r("checkboxes.options", "checkboxes", "options", "items", 10, 1, CHECKBOXES),
    _r("radio_buttons.options", "radio_buttons", "options", "items", 10, 1, RADIO),
    _r(
        "plain_text_input.min_length", "plain_text_input", "min_length", "int", 3000, 0, PLAIN_INPUT
    ),
    _r(
        "plain_text_input.max_length", "plain_text_input", "max_length", "int", 3000, 1, PLAIN_INPUT
    ),
    _r(
        "plain_text_input.placeholder",
        "plain_text_input",
        "placeholder.text",
        "chars",
        150,
        None,
        PLAIN_INPUT,
    ),
    _r(
        "plain_text_input.initial_value",
        "plain_text_input",
        "initial_value",
        "special",
        None,
        None,
        PLAIN_INPUT,
        "initial_value within min_length..max_length (and min_length <= max_length)",
    ),
    # -- interactions and Web API arguments -----------------------------------------
    _r(
        "response_action.kind",
        "view_submission",
        "response_action",
        "special",
        None,
        None,
        MODALS_GUIDE,
        "one of errors, update, push, clear",
    ),
    _r(
        "response_action.errors",
        "view_submission",
        "errors",
        "special",
        None,
        None,
        MODALS_GUIDE,
        "a non-empty object keyed by block_ids of input blocks in the submitted view",
    ),
    _r(
        "response_action.view",
        "view_submission",
        "view",
        "special",
        None,
        None,
        MODALS_GUIDE,
        "update and push carry a valid modal view",
    ),
    _r(
        "views.update.target",
        "method:views.update",
        "view_id",
        "special",
        None,
        None,
        VIEWS_UPDATE,
        "exactly one of view_id or external_id",
    ),
    _r(
        "views.update.hash",
        "method:views.update",
        "hash",
        "special",
        None,
        None,
        VIEWS_UPDATE,
        "a hash must be the view's current one (hash_conflict)",
    ),
    _r(
        "views.size",
        "method:views.open",
        "view",
        "special",
        250_000,
        None,
        VIEWS_OPEN,
        "view_too_large; the byte size is the harness's own bound, not a documented number",
    ),
    _r(
        "chat.postMessage.content",
        "method:chat.postMessage",
        "text",
        "special",
        None,
        None,
        POST_MESSAGE,
        "one of text, blocks or attachments is required (no_text)",
    ),
    _r(
        "chat.postMessage.thread_ts",
        "method:chat.postMessage",
        "thread_ts",
        "special",
        None,
        None,
        POST_MESSAGE,
        "another message's ts in the same channel, never a reply's",
    ),
    _r(
        "select.initial_option",
        "element",
        "initial_option",
        "special",
        None,
        None,
        SELECT,
        "initial_option (initial_options) must exactly match one of the element's options "
        "or option_groups (static_select, multi_static_select, radio_buttons, checkboxes); "
        "Slack refuses the view or message with invalid_blocks",
    ),
    _r(
        "block_suggestion.options",
        "block_suggestion",
        "options",
        "items",
        100,
        None,
        EXTERNAL_SELECT,
        "the options an external_select's block_suggestion answer holds (option_groups: "
        "at most 100 groups); more and Slack shows none",
    ),
    _r(
        "response_url.uses",
        "method:response_url",
        "response_url",
        "special",
        5,
        None,
        INTERACTION,
        "a response_url takes at most 5 messages within 30 minutes of the interaction",
    ),
    _r(
        "chat.update.target",
        "method:chat.update",
        "ts",
        "special",
        None,
        None,
        CHAT_UPDATE,
        "channel and ts of an existing message (message_not_found)",
    ),
)

_BY_KEY = {r.key: r for r in RULES}
assert len(_BY_KEY) == len(RULES), "rule keys must be unique"


def rule(key: str) -> Rule:
    """The rule with this key (KeyError for an unknown one)."""
    return _BY_KEY[key]


def tag(key: str) -> str:
    return f"[rule:{key}]"


# --------------------------------------------------------------------------
# Walking a Block Kit tree
# --------------------------------------------------------------------------

TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
NOT_ELEMENTS = TEXT_TYPES | {"image"}


def _text_keys() -> tuple[str, ...]:
    return ("text", "label", "hint", "placeholder", "title", "description", "submit", "close")


def iter_nodes(block: Any, pointer: str) -> Iterator[tuple[str, JsonDict, str]]:
    """Every node of one block that a rule can apply to: ``(where, node, pointer)``.

    A block is yielded as its type and as ``block``; an interactive element as
    its type and as ``element``; text objects as ``text_object``; options and
    option groups as ``option``/``option_group``; a section field also as
    ``section_field``.
    """
    if not isinstance(block, dict):
        return
    yield "block", block, pointer
    yield from _walk(block, pointer, is_block=True)


def _walk(
    node: JsonDict, pointer: str, *, is_block: bool = False
) -> Iterator[tuple[str, JsonDict, str]]:
    kind = node.get("type")
    if isinstance(kind, str):
        yield kind, node, pointer
        if kind in TEXT_TYPES:
            yield "text_object", node, pointer
            return
        if not is_block and kind not in NOT_ELEMENTS:
            yield "element", node, pointer
    for key in _text_keys():
        value = node.get(key)
        if isinstance(value, dict) and value.get("type") in TEXT_TYPES:
            yield "text_object", value, f"{pointer}/{key}"
    fields = node.get("fields")
    if kind == "section" and isinstance(fields, list):
        for index, item in enumerate(fields):
            if isinstance(item, dict):
                yield "section_field", item, f"{pointer}/fields/{index}"
                yield from _walk(item, f"{pointer}/fields/{index}")
    for key in ("element", "accessory"):
        value = node.get(key)
        if isinstance(value, dict):
            yield from _walk(value, f"{pointer}/{key}")
    elements = node.get("elements")
    if isinstance(elements, list):
        for index, item in enumerate(elements):
            if isinstance(item, dict):
                yield from _walk(item, f"{pointer}/elements/{index}")
    for option_key in ("options",):
        options = node.get(option_key)
        if isinstance(options, list):
            for index, item in enumerate(options):
                if isinstance(item, dict):
                    yield from _option(item, f"{pointer}/{option_key}/{index}")
    groups = node.get("option_groups")
    if isinstance(groups, list):
        for index, group in enumerate(groups):
            if not isinstance(group, dict):
                continue
            here = f"{pointer}/option_groups/{index}"
            yield "option_group", group, here
            label = group.get("label")
            if isinstance(label, dict):
                yield "text_object", label, f"{here}/label"
            for sub, item in enumerate(group.get("options") or []):
                if isinstance(item, dict):
                    yield from _option(item, f"{here}/options/{sub}")


def _option(option: JsonDict, pointer: str) -> Iterator[tuple[str, JsonDict, str]]:
    yield "option", option, pointer
    for key in ("text", "description"):
        value = option.get(key)
        if isinstance(value, dict):
            yield "text_object", value, f"{pointer}/{key}"


_MISSING = object()


def _get(node: JsonDict, path: str) -> Any:
    value: Any = node
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def check_value(key: str, value: Any, pointer: str) -> list[str]:
    """One ``chars``/``items``/``int`` rule applied to ``value`` found at ``pointer``."""
    r = rule(key)
    if r.check == "chars":
        if not isinstance(value, str):
            return [f"{r.field} must be a string {tag(r.key)} [json-pointer:{pointer}]"]
        size = len(value)
    elif r.check == "items":
        if not isinstance(value, list):
            return [f"{r.field} must be an array {tag(r.key)} [json-pointer:{pointer}]"]
        size = len(value)
    elif r.check == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{r.field} must be an integer {tag(r.key)} [json-pointer:{pointer}]"]
        size = value
    else:
        raise ValueError(f"rule {key} is special: its own code checks it")
    if (r.max is not None and size > r.max) or (r.min is not None and size < r.min):
        return [f"{r.describe()} (got {size}; {r.source}) {tag(r.key)} [json-pointer:{pointer}]"]
    return []


def check_node_rules(where: str, node: JsonDict, pointer: str) -> list[str]:
    """The ``chars``/``items``/``int`` rules of ``where`` applied to one node."""
    errors: list[str] = []
    for r in _RULES_BY_WHERE.get(where, ()):
        value = _get(node, r.field)
        if value is _MISSING or value is None:
            continue
        errors.extend(check_value(r.key, value, f"{pointer}/{r.field.replace('.', '/')}"))
    return errors


_RULES_BY_WHERE: dict[str, tuple[Rule, ...]] = {}
for _rule in RULES:
    if _rule.check != "special":
        _RULES_BY_WHERE[_rule.where] = (*_RULES_BY_WHERE.get(_rule.where, ()), _rule)


def check_rules(blocks: list[Any], pointer: str) -> list[str]:
    """Every field rule of every node of ``blocks``, plus the per-block special rules.

    Block-level uniqueness (``block.block_id_unique``) is checked here over the
    whole array (one message or view); ``action_id`` uniqueness within a block and
    ``initial_value`` bounds per element.
    """
    errors: list[str] = []
    seen_block_ids: dict[str, int] = {}
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(block, dict):
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str) and block_id:
            if block_id in seen_block_ids:
                first = f"{pointer}/{seen_block_ids[block_id]}"
                errors.append(
                    f"duplicate block_id {block_id!r} (also at {first}) "
                    f"{tag('block.block_id_unique')} [json-pointer:{here}]"
                )
            else:
                seen_block_ids[block_id] = index
        action_ids: set[str] = set()
        for where, node, node_pointer in iter_nodes(block, here):
            errors.extend(check_node_rules(where, node, node_pointer))
            if where == "element":
                action_id = node.get("action_id")
                if isinstance(action_id, str) and action_id:
                    if action_id in action_ids:
                        errors.append(
                            f"duplicate action_id {action_id!r} within a block "
                            f"{tag('element.action_id_unique')} [json-pointer:{node_pointer}]"
                        )
                    action_ids.add(action_id)
            if where == "plain_text_input":
                errors.extend(_initial_value_errors(node, node_pointer))
            if where in _CHOICE_ELEMENTS:
                errors.extend(_initial_option_errors(node, node_pointer))
    return errors


# Elements whose initial choice must be one of their own options (rule select.initial_option).
_CHOICE_ELEMENTS = frozenset(
    {"static_select", "multi_static_select", "radio_buttons", "checkboxes"}
)


def _option_key(option: Any) -> tuple[str, str] | None:
    """What "exactly matches" compares: the option's value and its text."""
    if not isinstance(option, dict):
        return None
    text = option.get("text")
    shown = text.get("text") if isinstance(text, dict) else None
    return (str(option.get("value")), str(shown))


def _initial_option_errors(node: JsonDict, pointer: str) -> list[str]:
    options = [o for o in node.get("options") or [] if isinstance(o, dict)]
    for group in node.get("option_groups") or []:
        if isinstance(group, dict):
            options.extend(o for o in group.get("options") or [] if isinstance(o, dict))
    offered = {_option_key(o) for o in options}
    chosen: list[tuple[str, Any]] = []
    if node.get("initial_option") is not None:
        chosen.append(("initial_option", node["initial_option"]))
    for index, option in enumerate(node.get("initial_options") or []):
        chosen.append((f"initial_options/{index}", option))
    return [
        f"{field} {_option_key(option)!r} is not one of the element's options "
        f"{tag('select.initial_option')} [json-pointer:{pointer}/{field}]"
        for field, option in chosen
        if _option_key(option) not in offered
    ]


def _initial_value_errors(node: JsonDict, pointer: str) -> list[str]:
    key = "plain_text_input.initial_value"
    min_length, max_length = node.get("min_length"), node.get("max_length")
    low = min_length if isinstance(min_length, int) else 0
    high = max_length if isinstance(max_length, int) else rule("plain_text_input.max_length").max
    errors: list[str] = []
    if high is not None and low > high:
        errors.append(
            f"min_length {low} is above max_length {high} {tag(key)} [json-pointer:{pointer}]"
        )
    value = node.get("initial_value")
    if isinstance(value, str) and high is not None and not low <= len(value) <= high:
        errors.append(
            f"initial_value has {len(value)} characters, outside {low}..{high} "
            f"{tag(key)} [json-pointer:{pointer}/initial_value]"
        )
    return errors
