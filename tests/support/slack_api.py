"""A local stand-in for the Slack Web API, for tests that run the real bot.

The bot talks to Slack only through `slack_sdk`'s Web API client, whose base URL
comes from `SLACK_API_URL`. Pointing it at this stand-in (``standin.base_url``)
lets a test drive the real process end to end and then assert which Web API
calls it made, with which arguments, while the stand-in answers the way Slack
does, including the failures a correct bot must survive (``invalid_blocks``,
``hash_conflict``, ``ratelimited`` with ``Retry-After``, an unreachable API).

It is deliberately stricter than "accept anything": every ``view`` and every
``blocks`` list is checked against Slack's published Block Kit contract: through
``slack_sdk.models`` (shapes, unknown fields) and through the table of documented
limits in ``tests.support.slack_limits`` (every number the stand-in enforces,
each with the reference page that states it), plus this app's own rules. A
refused payload gets Slack's error answer *and* is recorded in ``violations``,
so a test can end with ``assert standin.violations == []`` and catch a modal
Slack would refuse even when the bot swallows the error.

Usage::

    with SlackApiStandIn() as slack:
        env["SLACK_API_URL"] = slack.base_url
        env["SLACK_BOT_TOKEN"] = slack.bot_token
        ...  # start the bot, post signed requests (tests.support.slack_requests)
        opened = slack.wait_for("views.open")[0]
        assert slack.violations == []

Concurrency: the HTTP server runs in its own thread and serves each request in
a thread; one lock guards all state, so the recording/inspection helpers are
safe to call from the test thread (or event loop, see ``wait_for_async``).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import secrets
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.support.slack_limits import check_node_rules, check_rules, check_value, rule, tag

__all__ = [
    "BLOCK_LIMITS",
    "DownMode",
    "RecordedCall",
    "SlackApiStandIn",
    "Violation",
    "validate_blocks",
    "validate_message",
    "validate_response_action",
    "validate_view",
]

JsonDict = dict[str, Any]
DownMode = Literal["refuse", "http_503"]

Surface = Literal["modal", "home", "message"]

# Blocks per surface, read from the limits table (the one place the numbers live).
BLOCK_LIMITS: dict[str, int] = {
    surface: int(rule(f"{surface}.blocks").max or 0) for surface in ("modal", "home", "message")
}

# Elements whose use in an `input` block with `dispatch_action: true` makes Slack
# send `block_actions` (selects, text-like inputs, pickers, choices). A block
# whose element is not one of these cannot dispatch, so the flag is a bug.
DISPATCHABLE_ELEMENTS = frozenset(
    {
        "plain_text_input",
        "number_input",
        "email_text_input",
        "url_text_input",
        "rich_text_input",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "checkboxes",
        "radio_buttons",
    }
)
# Element types that carry no action_id (composition objects, images).
NON_INTERACTIVE_ELEMENTS = frozenset({"image", "plain_text", "mrkdwn"})

# Errors that mean "the bot sent something Slack refuses" (recorded as violations),
# as opposed to runtime conditions a correct bot meets (hash_conflict, not_found,
# ratelimited, expired_trigger_id, injected faults).
# The window of rule response_url.uses (Slack, "Handling user interaction": 5 messages
# within 30 minutes of the interaction).
RESPONSE_URL_WINDOW = 30 * 60

CONTRACT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_arguments",
        "invalid_json",
        "unknown_method",
        # A thread reply to a message that does not exist: a bug of the bot.
        "thread_not_found",
        "not_authed",
        "invalid_auth",
        "no_text",
        "msg_too_long",
        # A response_url used more than Slack allows (rule response_url.uses).
        "used_url",
    }
)


@dataclass(frozen=True)
class RecordedCall:
    """One request the stand-in received, with the answer it gave.

    ``params`` merges the query string and the body (form or JSON); fields that
    ``slack_sdk`` sends as JSON strings inside a form (``view``, ``blocks``...)
    are already decoded. ``headers`` keys are lower-case. ``at`` is
    ``time.monotonic()`` on arrival, so tests can measure waits between calls.
    """

    method: str
    params: JsonDict
    headers: dict[str, str]
    http_method: str = "POST"
    path: str = ""
    status: int = 200
    response: JsonDict = field(default_factory=dict)
    at: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the stand-in answered ``ok: true``."""
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """Slack's error code of the answer, if any."""
        error = self.response.get("error")
        return str(error) if error is not None else None


@dataclass(frozen=True)
class Violation:
    """A call Slack would have refused because the bot broke the API contract."""

    method: str
    error: str
    errors: tuple[str, ...]
    params: JsonDict = field(repr=False, default_factory=dict)


@dataclass
class _Fault:
    kind: Literal["error", "ratelimit"]
    method: str
    error: str
    retry_after: int
    remaining: int


@dataclass(frozen=True)
class _Reply:
    body: JsonDict
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    injected: bool = False  # a fault the test asked for, never a violation


class _ApiError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, errors: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.errors = errors or []


# --------------------------------------------------------------------------
# Catching what slack_sdk silently drops
# --------------------------------------------------------------------------


class _SdkLogCapture(logging.Handler):
    """Collects slack_sdk.models log messages emitted by the current thread only.

    ``slack_sdk`` does not raise on an unknown block type, element or field: it
    logs ("Unknown block detected and skipped", "Unsupported field ...") and
    drops it. Slack itself refuses such payloads, so the stand-in turns those
    log lines into violations. Filtering by thread keeps concurrent requests
    (and the test's own slack_sdk use) from leaking into each other.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self._local = threading.local()

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        messages: list[str] = []
        self._local.messages = messages
        try:
            yield messages
        finally:
            self._local.messages = None

    def emit(self, record: logging.LogRecord) -> None:
        messages = getattr(self._local, "messages", None)
        if messages is not None:
            messages.append(record.getMessage())


_SDK_CAPTURE = _SdkLogCapture()
_SDK_CAPTURE_LOCK = threading.Lock()


def _sdk_log_capture() -> _SdkLogCapture:
    """Attach the capture handler to ``slack_sdk.models`` once (it is inert when unused)."""
    with _SDK_CAPTURE_LOCK:
        logger = logging.getLogger("slack_sdk.models")
        if _SDK_CAPTURE not in logger.handlers:
            logger.addHandler(_SDK_CAPTURE)
    return _SDK_CAPTURE


def _dropped_by_sdk(sent: Any, parsed: Any, pointer: str) -> list[str]:
    """What ``slack_sdk`` ignored or rewrote when parsing ``sent`` into ``parsed``.

    A key present in what the bot sent but absent after the round trip through
    ``slack_sdk.models`` is an attribute Block Kit does not define (slack_sdk
    only logs it at DEBUG level); a string where slack_sdk produced an object
    (e.g. ``"text": "hi"`` on a section) is a shape Slack refuses.
    """
    problems: list[str] = []
    if isinstance(sent, dict):
        if not isinstance(parsed, dict):
            kind = sent.get("type", "object")
            return [f"unsupported or unknown {kind!s} [json-pointer:{pointer}]"]
        for key, value in sent.items():
            if value is None:
                continue
            if key not in parsed:
                if value in ([], {}, ""):
                    continue
                problems.append(f"invalid additional property: {key} [json-pointer:{pointer}]")
                continue
            problems.extend(_dropped_by_sdk(value, parsed[key], f"{pointer}/{key}"))
    elif isinstance(sent, list):
        if not isinstance(parsed, list):
            return [f"expected an array [json-pointer:{pointer}]"]
        if len(parsed) < len(sent):
            problems.append(
                f"only {len(parsed)} of {len(sent)} items are valid Block Kit "
                f"[json-pointer:{pointer}]"
            )
        for index, (item, parsed_item) in enumerate(zip(sent, parsed, strict=False)):
            problems.extend(_dropped_by_sdk(item, parsed_item, f"{pointer}/{index}"))
    elif isinstance(parsed, dict | list):
        problems.append(f"expected an object, got {type(sent).__name__} [json-pointer:{pointer}]")
    return problems


def _text_of(value: Any) -> str | None:
    if isinstance(value, dict):
        text = value.get("text")
        return text if isinstance(text, str) else None
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------
# Block Kit contract
# --------------------------------------------------------------------------


def _element_slots(block: JsonDict, pointer: str) -> list[tuple[str, Any]]:
    """The interactive element positions of a block: input element, actions, accessory."""
    slots: list[tuple[str, Any]] = []
    block_type = block.get("type")
    if block_type == "input" and "element" in block:
        slots.append((f"{pointer}/element", block["element"]))
    elif block_type == "actions" and isinstance(block.get("elements"), list):
        for index, element in enumerate(block["elements"]):
            slots.append((f"{pointer}/elements/{index}", element))
    elif block_type == "section" and "accessory" in block:
        slots.append((f"{pointer}/accessory", block["accessory"]))
    return slots


def validate_blocks(
    blocks: Any,
    *,
    pointer: str = "/blocks",
    surface: Surface = "message",
    require_block_ids: bool = True,
) -> list[str]:
    """Check a ``blocks`` array the way Slack does; return Slack-style error strings.

    Each block goes through ``slack_sdk.models.blocks.Block.parse`` and its
    validators (``to_dict`` validates the whole tree), then through every rule
    of the limits table (lengths, counts, ranges, unique block_ids and
    action_ids, ``initial_value`` bounds) for ``surface``'s block count.
    ``require_block_ids`` adds this app's own rule: Slack invents random
    block_ids otherwise and typed values are lost on ``views.update`` (see
    docs/facts.md), so every block must carry one.
    """
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if surface == "message":  # a view's count is checked with the view's own rules
        errors.extend(check_value("message.blocks", blocks, pointer))
    errors.extend(check_rules(blocks, pointer))
    capture = _sdk_log_capture()
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(block, dict):
            errors.append(f"must be an object [json-pointer:{here}]")
            continue
        block_errors: list[str] = []
        block_id = block.get("block_id")
        if block_id is None and require_block_ids:
            block_errors.append(
                f"app contract: every block needs a stable block_id [json-pointer:{here}]"
            )

        with capture.capture() as sdk_messages:
            try:
                parsed = Block.parse(copy.deepcopy(block))
                if parsed is None:
                    block_errors.append(
                        f"unknown block type {block.get('type')!r} [json-pointer:{here}]"
                    )
                else:
                    block_errors.extend(_dropped_by_sdk(block, parsed.to_dict(), here))
            except Exception as exc:  # slack_sdk raises several kinds for a bad shape
                block_errors.append(f"{type(exc).__name__}: {exc} [json-pointer:{here}]")
        if not block_errors:
            # Backstop: anything slack_sdk logged as skipped/ignored that the
            # structural comparison did not already explain.
            block_errors.extend(f"slack_sdk: {msg} [json-pointer:{here}]" for msg in sdk_messages)

        for slot_pointer, element in _element_slots(block, here):
            if not isinstance(element, dict):
                continue
            element_type = element.get("type")
            if element_type in NON_INTERACTIVE_ELEMENTS:
                continue
            if not element.get("action_id") and require_block_ids:
                block_errors.append(
                    f"app contract: interactive element {element_type!r} needs an action_id "
                    f"[json-pointer:{slot_pointer}]"
                )
        if block.get("type") == "input" and block.get("dispatch_action"):
            element = block.get("element")
            element_type = element.get("type") if isinstance(element, dict) else None
            if element_type not in DISPATCHABLE_ELEMENTS:
                block_errors.append(
                    f"dispatch_action is not supported by element {element_type!r} "
                    f"[json-pointer:{here}/dispatch_action]"
                )
        errors.extend(block_errors)
    return errors


def validate_view(
    view: Any,
    *,
    pointer: str = "/view",
    expected_type: str | None = None,
    require_block_ids: bool = True,
) -> list[str]:
    """Check a ``view`` object against Slack's contract; return Slack-style error strings.

    The view's own rules from the limits table (title/submit/close,
    ``private_metadata``, ``callback_id``, block count...), then
    ``slack_sdk.models.views.View(**view)`` and each of its validators (all of
    them, not only up to the first failure, so one answer lists every problem),
    then every block (``validate_blocks``).
    """
    if not isinstance(view, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    errors: list[str] = []
    view_type = view.get("type")
    if view_type not in ("modal", "home"):
        errors.append(f"type must be 'modal' or 'home' [json-pointer:{pointer}/type]")
    elif expected_type is not None and view_type != expected_type:
        errors.append(f"type must be {expected_type!r} here [json-pointer:{pointer}/type]")
    for key in view:
        if key not in View.attributes:
            errors.append(f"invalid additional property: {key} [json-pointer:{pointer}]")

    surface: Surface = "home" if view_type == "home" else "modal"
    # Shapes first; the table's numbers second. `reported` keeps one line per problem.
    own: dict[str, str] = {}
    if view_type == "modal" and view.get("title") is None:
        own["title"] = "a modal needs a title"
    for key in ("title", "submit", "close"):
        value = view.get(key)
        if value is not None and (
            not isinstance(value, dict)
            or value.get("type") != "plain_text"
            or not isinstance(_text_of(value), str)
        ):
            own[key] = f"{key} must be a plain_text object"
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    if view_type == "modal" and view.get("submit") is None and has_input:
        own["submit"] = (
            f"a modal with input blocks needs a submit button {tag('modal.submit_with_inputs')}"
        )
    if view_type == "home" and (view.get("submit") is not None or view.get("close") is not None):
        own["home"] = "a home view cannot have submit or close"
    size_limit = int(rule("views.size").max or 0)
    size = len(json.dumps(view, separators=(",", ":")).encode())
    if size > size_limit:
        own["size"] = f"view is {size} bytes, more than {size_limit} {tag('views.size')}"
    errors.extend(f"{message} [json-pointer:{pointer}/{key}]" for key, message in own.items())
    shaped = {k: v for k, v in view.items() if k not in own}
    table_errors = check_node_rules(f"view:{surface}", shaped, pointer)
    errors.extend(table_errors)
    reported = set(own) | {
        key
        for key in ("title", "submit", "close", "private_metadata", "callback_id", "blocks")
        if any(f"{pointer}/{key}" in error for error in table_errors)
    }

    # slack_sdk's own validators, each one (validate_json stops at the first).
    # Skip those about a field already reported above so one problem is one line.
    try:
        model = View(**copy.deepcopy({k: v for k, v in view.items() if k in View.attributes}))
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc} [json-pointer:{pointer}]")
    else:
        for name in sorted(dir(type(model))):
            validator = getattr(model, name, None)
            if not (callable(validator) and getattr(validator, "validator", False)):
                continue
            if any(key in name for key in reported):
                continue
            if "blocks" in name and isinstance(blocks, list) and blocks:
                continue  # the count is the table's modal.blocks / home.blocks
            try:
                validator()
            except Exception as exc:
                errors.append(f"{exc} [json-pointer:{pointer}]")

    if blocks is None:
        errors.append(f"blocks is required [json-pointer:{pointer}/blocks]")
    else:
        errors.extend(
            validate_blocks(
                blocks,
                pointer=f"{pointer}/blocks",
                surface=surface,
                require_block_ids=require_block_ids,
            )
        )
    return errors


def validate_message(
    params: JsonDict, *, method: str = "chat.postMessage", require_block_ids: bool = True
) -> tuple[str, list[str]] | None:
    """The arguments of a message (chat.postMessage/postEphemeral/update, response_url).

    Returns ``(error_code, errors)`` for what Slack refuses, or None. ``text``,
    ``blocks`` or ``attachments`` must be there when posting (``no_text``; a
    chat.update may leave all out and keep the old content), the top-level text
    and the blocks must respect the table.
    """
    text = params.get("text")
    if (
        method != "chat.update"
        and not text
        and not params.get("blocks")
        and not params.get("attachments")
    ):
        return "no_text", [
            f"text, blocks or attachments is required {tag('chat.postMessage.content')}"
        ]
    if text is not None and method != "chat.postMessage":
        # chat.postMessage truncates a longer text instead (rule message.text).
        too_long = check_value(
            "message.text", text if isinstance(text, str) else str(text), "/text"
        )
        if too_long:
            return "msg_too_long", too_long
    if params.get("blocks") is not None:
        errors = validate_blocks(
            params["blocks"], pointer="/blocks", require_block_ids=require_block_ids
        )
        if errors:
            return "invalid_blocks", errors
    return None


_RESPONSE_ACTIONS = frozenset({"errors", "update", "push", "clear"})


def validate_options_answer(answer: Any) -> list[str]:
    """Whether the bot's answer to a ``block_suggestion`` is one Slack shows.

    ``options`` (or ``option_groups``) of at most 100 items (rule
    ``block_suggestion.options``), each option as the table wants it (text, value).
    """
    if not isinstance(answer, dict):
        return [f"the answer must be a JSON object {tag('block_suggestion.options')}"]
    problems: list[str] = []
    for key in ("options", "option_groups"):
        items = answer.get(key)
        if items is None:
            continue
        problems += check_value("block_suggestion.options", items, f"/{key}")
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            where = "option" if key == "options" else "option_group"
            pointer = f"/{key}/{index}"
            if isinstance(item, dict):
                problems += check_node_rules(where, item, pointer)
                for inner, option in enumerate(item.get("options") or []):
                    if isinstance(option, dict) and where == "option_group":
                        problems += check_node_rules("option", option, f"{pointer}/{inner}")
    return problems


def validate_response_action(
    answer: Any, submitted_view: JsonDict, *, require_block_ids: bool = True
) -> list[str]:
    """Whether the bot's answer to a ``view_submission`` is one Slack accepts.

    An empty body closes the modal. Otherwise ``response_action`` is one of
    errors/update/push/clear; ``errors`` is a non-empty object whose keys are
    block_ids of *input* blocks in the submitted view (Slack rejects the answer
    otherwise and the user sees a generic error); ``update`` and ``push`` carry a
    valid modal.
    """
    if answer in (None, "", {}):
        return []
    if not isinstance(answer, dict):
        return [f"the answer must be a JSON object {tag('response_action.kind')}"]
    kind = answer.get("response_action")
    if kind not in _RESPONSE_ACTIONS:
        return [f"unknown response_action {kind!r} {tag('response_action.kind')}"]
    problems: list[str] = []
    if kind == "errors":
        errors = answer.get("errors")
        inputs = {
            str(b.get("block_id"))
            for b in submitted_view.get("blocks", [])
            if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
        }
        if not isinstance(errors, dict) or not errors:
            problems.append(f"errors must be a non-empty object {tag('response_action.errors')}")
        else:
            for block_id, message in errors.items():
                if block_id not in inputs:
                    problems.append(
                        f"errors names {block_id!r}, not an input block of the view "
                        f"(inputs: {sorted(inputs)}) {tag('response_action.errors')}"
                    )
                if not isinstance(message, str) or not message:
                    problems.append(
                        f"the error for {block_id!r} must be a non-empty string "
                        f"{tag('response_action.errors')}"
                    )
    elif kind in ("update", "push"):
        view = answer.get("view")
        if view is None:
            problems.append(f"{kind} needs a view {tag('response_action.view')}")
        else:
            problems.extend(
                validate_view(
                    view,
                    pointer="/view",
                    expected_type="modal",
                    require_block_ids=require_block_ids,
                )
            )
    return problems


# --------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------


def _new_id(prefix: str, taken: set[str]) -> str:
    alphabet = string.ascii_uppercase + string.digits
    while True:
        candidate = prefix + "".join(secrets.choice(alphabet) for _ in range(10))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _new_hash() -> str:
    """Slack-like view hash (``"1569362015.55b5e41b"``): new on every change."""
    return f"{int(time.time())}.{secrets.token_hex(4)}"


class SlackApiStandIn:
    """The Slack Web API on a free loopback port, recording every call.

    Construct, ``start()`` (or use as a context manager), give the bot
    ``base_url`` and ``bot_token``, then inspect ``calls`` / ``violations`` or
    the remembered ``views`` and ``messages``. See the module docstring.

    ``require_block_ids`` (default on) enforces this app's rule that every
    block has a ``block_id`` and every interactive element an ``action_id``;
    errors it produces start with ``app contract:``.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot-token",
        app_token: str = "xapp-test-app-token",
        team_id: str = "T1",
        team_domain: str = "imagerepo-test",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A1",
        require_block_ids: bool = True,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        # What apps.connections.open hands out: a test running Socket Mode points it at
        # its own WebSocket server (the default is a port nothing listens on).
        self.socket_mode_url = "ws://127.0.0.1:9/link/"
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.require_block_ids = require_block_ids

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[RecordedCall] = []
        self._violations: list[Violation] = []
        self._faults: list[_Fault] = []
        self._views: dict[str, JsonDict] = {}
        self._external_ids: dict[str, str] = {}
        self._home_by_user: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self._ids: set[str] = set()
        self._messages: list[JsonDict] = []
        self._ephemeral: list[JsonDict] = []
        self._users: dict[str, JsonDict] = {}
        self._channels: dict[str, JsonDict] = {}
        self._ts = itertools.count(1)
        self._hooks = itertools.count(1)
        self._response_url_uses: dict[str, list[float]] = {}

        self._port: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._reservation: socket.socket | None = None
        self._down: DownMode | None = None

        self._methods: dict[str, Callable[[JsonDict], JsonDict]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
        }

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> SlackApiStandIn:
        """Listen on a free 127.0.0.1 port in a background thread."""
        with self._lock:
            if self._port is not None:
                raise RuntimeError("SlackApiStandIn already started")
            self._listen(port=0)
        return self

    def stop(self) -> None:
        """Stop listening and release the port; safe to call twice."""
        with self._lock:
            self._close_listener()
            if self._reservation is not None:
                self._reservation.close()
                self._reservation = None
            self._down = None
            self._port = None
            self._changed.notify_all()

    def __enter__(self) -> SlackApiStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SlackApiStandIn is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """What to give slack_sdk as ``base_url`` (the bot's ``SLACK_API_URL``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def new_response_url(self) -> str:
        """A fresh ``response_url`` served by this stand-in.

        Slash commands and message actions carry a ``response_url`` that Bolt's
        ``respond()`` POSTs to. Slack's real one lives on hooks.slack.com, which
        tests cannot reach, so payload builders should use this instead; posts
        to it are recorded as method ``"response_url"`` (blocks validated as a
        message).
        """
        return f"http://127.0.0.1:{self.port}/_hooks/response/{next(self._hooks)}"

    def _listen(self, port: int) -> None:
        standin = self

        class Handler(_Handler):
            owner = standin

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-api-standin:{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        self._port = int(server.server_address[1])

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- fault injection ---------------------------------------------------

    def fail_next(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """The next ``times`` calls to ``method`` answer ``{"ok": false, "error": error}``.

        ``method`` may be ``"*"`` for any method. The bad token and unknown
        method checks still come first, as on Slack.
        """
        with self._lock:
            self._faults.append(_Fault("error", method, error, 0, times))

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` get HTTP 429, ``Retry-After``, ``ratelimited``."""
        with self._lock:
            self._faults.append(_Fault("ratelimit", method, "ratelimited", retry_after, times))

    def set_down(self, down: bool, mode: DownMode = "refuse") -> None:
        """Make the API unreachable (``down=True``) or reachable again.

        ``mode="refuse"`` (default) closes the listening socket and keeps the
        port bound *without listening*, so connections are refused on the same
        port (no other process can take it) until ``set_down(False)`` listens
        again. That is the failure slack_sdk's ``ConnectionErrorRetryHandler``
        (sync: ``URLError``) and ``AsyncConnectionErrorRetryHandler`` (aiohttp's
        ``ClientConnectorError`` is a ``ClientOSError``) retry.
        ``mode="http_503"`` keeps listening and answers HTTP 503, which only
        ``ServerErrorRetryHandler`` retries; these calls are recorded.

        The bot's ``AsyncConnectionErrorRetryHandler(max_retry_count=2)`` with
        slack_sdk's default backoff (0.5 s, then 1 s, plus jitter) survives an
        outage of about a second; a longer one makes its call fail.
        """
        with self._lock:
            if self._port is None:
                raise RuntimeError("SlackApiStandIn is not started")
            if down and self._down is None:
                if mode == "refuse":
                    self._close_listener()
                    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    reservation.bind(("127.0.0.1", self._port))
                    self._reservation = reservation
                self._down = mode
            elif not down and self._down is not None:
                if self._down == "refuse":
                    if self._reservation is not None:
                        self._reservation.close()
                        self._reservation = None
                    self._listen(port=self._port)
                self._down = None

    @property
    def is_down(self) -> bool:
        with self._lock:
            return self._down is not None

    # -- configuration of answers -----------------------------------------

    def set_user(
        self,
        user_id: str,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        name: str | None = None,
        exists: bool = True,
        locale: str = "en-US",
        tz: str = "UTC",
    ) -> None:
        """Configure what ``users.info`` says about ``user_id`` (default: a plain member,
        `en-US`, `UTC`)."""
        with self._lock:
            self._users[user_id] = {
                "exists": exists,
                "is_admin": is_admin or is_owner or is_primary_owner,
                "is_owner": is_owner or is_primary_owner,
                "is_primary_owner": is_primary_owner,
                "is_bot": is_bot,
                "deleted": deleted,
                "name": name or user_id.lower(),
                "locale": locale,
                "tz": tz,
            }

    def set_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
        exists: bool = True,
    ) -> None:
        """Configure what ``conversations.info`` says about ``channel_id``."""
        with self._lock:
            self._channels[channel_id] = {
                "exists": exists,
                "name": name or channel_id.lower(),
                "is_private": is_private,
                "is_member": is_member,
                "is_archived": is_archived,
            }

    # -- inspection --------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def violations(self) -> list[Violation]:
        """Calls Slack would have refused as malformed (a copy); tests assert it is empty."""
        with self._lock:
            return list(self._violations)

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self._calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        """Block until ``method`` was called ``count`` times; return those calls.

        The bot acks first and calls the Web API afterwards, so a test must wait
        for the call rather than look right after the HTTP response. Raises
        AssertionError after ``timeout`` seconds, listing what did arrive.
        Do not call this from the event loop that runs the bot (use
        ``wait_for_async``).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [call for call in self._calls if call.method == method]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._wait_message(method, count, timeout, matching))
                self._changed.wait(remaining)

    async def wait_for_async(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedCall]:
        """``wait_for`` for async tests: polls without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            matching = self.calls_to(method)
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                raise AssertionError(self._wait_message(method, count, timeout, matching))
            await asyncio.sleep(0.01)

    def _wait_message(
        self, method: str, count: int, timeout: float, matching: list[RecordedCall]
    ) -> str:
        seen = [call.method + (f"({call.error})" if call.error else "") for call in self.calls]
        return (
            f"expected {count} call(s) to {method} within {timeout}s, got {len(matching)}; "
            f"calls so far: {seen}; violations: {self.violations}"
        )

    def record_violation(
        self, method: str, error: str, errors: list[str], params: JsonDict | None = None
    ) -> None:
        """Record a contract break found outside a Web API call (an ack body, say).

        ``SlackClient.submit`` uses it for a ``view_submission`` answer Slack would
        reject, so ``assert standin.violations == []`` covers acks too.
        """
        with self._lock:
            self._violations.append(
                Violation(method=method, error=error, errors=tuple(errors), params=params or {})
            )
            self._changed.notify_all()

    def clear(self) -> None:
        """Forget recorded calls and violations (views, messages and faults are kept)."""
        with self._lock:
            self._calls.clear()
            self._violations.clear()

    @property
    def views(self) -> dict[str, JsonDict]:
        """Every view opened, pushed or published, as last answered, by view id (copies)."""
        with self._lock:
            return copy.deepcopy(self._views)

    def view(self, view_id: str) -> JsonDict:
        """The current state of one view, as Slack would put it in a payload."""
        with self._lock:
            if view_id not in self._views:
                raise KeyError(f"no view {view_id!r}; known: {sorted(self._views)}")
            return copy.deepcopy(self._views[view_id])

    def home_view(self, user_id: str) -> JsonDict:
        """The App Home view last published for ``user_id``."""
        with self._lock:
            if user_id not in self._home_by_user:
                raise KeyError(f"no home view published for {user_id!r}")
            return copy.deepcopy(self._views[self._home_by_user[user_id]])

    @property
    def messages(self) -> list[JsonDict]:
        """Messages posted with chat.postMessage (as updated by chat.update)."""
        with self._lock:
            return copy.deepcopy(self._messages)

    @property
    def ephemeral_messages(self) -> list[JsonDict]:
        """Messages posted with chat.postEphemeral (each has ``user``)."""
        with self._lock:
            return copy.deepcopy(self._ephemeral)

    # -- request handling (called from server threads) ---------------------

    def _handle(
        self, http_method: str, target: str, headers: dict[str, str], body: bytes
    ) -> _Reply:
        arrived = time.monotonic()
        split = urlsplit(target)
        path = split.path
        params: JsonDict = {
            k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()
        }
        parse_error: str | None = None
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if body:
            if content_type == "application/json":
                try:
                    decoded = json.loads(body)
                except ValueError:
                    parse_error = "invalid_json"
                else:
                    if isinstance(decoded, dict):
                        params.update(decoded)
                    else:
                        parse_error = "invalid_json"
            else:
                form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                params.update({k: v[-1] for k, v in form.items()})
                for key in ("view", "blocks", "attachments"):
                    raw = params.get(key)
                    if isinstance(raw, str) and raw.strip():
                        try:
                            params[key] = json.loads(raw)
                        except ValueError:
                            parse_error = "invalid_arguments"

        if path.startswith("/_hooks/response/"):
            method = "response_url"
        elif path.startswith("/api/"):
            method = path[len("/api/") :]
        else:
            method = path

        with self._lock:
            reply = self._answer(method, path, headers, params, parse_error)
            self._calls.append(
                RecordedCall(
                    method=method,
                    params=params,
                    headers=headers,
                    http_method=http_method,
                    path=path,
                    status=reply.status,
                    response=reply.body,
                    at=arrived,
                )
            )
            error = reply.body.get("error")
            if error in CONTRACT_ERRORS and not reply.injected:
                self._violations.append(
                    Violation(
                        method=method,
                        error=str(error),
                        errors=tuple(reply.body.get("errors", ())),
                        params=params,
                    )
                )
            self._changed.notify_all()
        return reply

    def _answer(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: JsonDict,
        parse_error: str | None,
    ) -> _Reply:
        if self._down == "http_503":
            return _Reply({"ok": False, "error": "service_unavailable"}, status=503)
        if method == "response_url":
            return self._response_url(path, params, parse_error)
        if not path.startswith("/api/") or method not in self._methods:
            return _Reply({"ok": False, "error": "unknown_method", "req_method": method})

        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else params.get("token")
        # Every method, auth.test included (docs.slack.dev/reference/methods/auth.test,
        # "Errors"): no token is `not_authed`, a token Slack does not know (mistyped,
        # revoked) is `invalid_auth`.
        if not token:
            return _Reply({"ok": False, "error": "not_authed"})
        # apps.connections.open takes only an app-level token
        # (docs.slack.dev/reference/methods/apps.connections.open: "Token types: app-level";
        # a bot token there is `not_allowed_token_type`); every other method here takes
        # only the bot token.
        if method == "apps.connections.open":
            if token == self.bot_token:
                return _Reply({"ok": False, "error": "not_allowed_token_type"})
            if token != self.app_token:
                return _Reply({"ok": False, "error": "invalid_auth"})
        elif token == self.app_token:
            return _Reply({"ok": False, "error": "not_allowed_token_type"})
        elif token != self.bot_token:
            return _Reply({"ok": False, "error": "invalid_auth"})

        for fault in self._faults:
            if fault.method in (method, "*") and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                if fault.kind == "ratelimit":
                    return _Reply(
                        {"ok": False, "error": "ratelimited"},
                        status=429,
                        headers=(("Retry-After", str(fault.retry_after)),),
                        injected=True,
                    )
                return _Reply({"ok": False, "error": fault.error}, injected=True)

        if parse_error is not None:
            return _Reply({"ok": False, "error": parse_error})
        try:
            return _Reply({"ok": True, **self._methods[method](params)})
        except _ApiError as exc:
            body: JsonDict = {"ok": False, "error": exc.error}
            if exc.errors:
                body["errors"] = exc.errors
                body["response_metadata"] = {"messages": [f"[ERROR] {e}" for e in exc.errors]}
            return _Reply(body)

    # -- methods -----------------------------------------------------------

    @staticmethod
    def _require(params: JsonDict, *names: str) -> None:
        missing = [name for name in names if params.get(name) in (None, "")]
        if missing:
            raise _ApiError(
                "invalid_arguments",
                [f"missing required field: {name} [json-pointer:/{name}]" for name in missing],
            )

    def _check_view(self, params: JsonDict, expected_type: str | None) -> JsonDict:
        self._require(params, "view")
        errors = validate_view(
            params["view"],
            expected_type=expected_type,
            require_block_ids=self.require_block_ids,
        )
        if errors:
            raise _ApiError("invalid_blocks", errors)
        return copy.deepcopy(params["view"])

    def _check_message(self, params: JsonDict, method: str) -> None:
        refused = validate_message(params, method=method, require_block_ids=self.require_block_ids)
        if refused is not None:
            raise _ApiError(*refused)

    def _use_trigger(self, params: JsonDict) -> None:
        """A trigger_id works once (Slack: expired_trigger_id when reused)."""
        trigger_id = str(params["trigger_id"])
        if trigger_id in self._used_triggers:
            raise _ApiError("expired_trigger_id")
        self._used_triggers.add(trigger_id)

    def _store_view(self, view: JsonDict, *, previous: JsonDict | None = None) -> JsonDict:
        """Give a view what Slack adds (id, hash, state...) and remember it."""
        view_id = previous["id"] if previous else _new_id("V", self._ids)
        external_id = view.get("external_id") or (previous or {}).get("external_id", "")
        if external_id and self._external_ids.get(external_id, view_id) != view_id:
            raise _ApiError("duplicate_external_id")
        block_ids = {b.get("block_id") for b in view.get("blocks", []) if isinstance(b, dict)}
        old_values = (previous or {}).get("state", {}).get("values", {})
        stored: JsonDict = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            # views.update keeps what users typed in blocks whose ids did not change.
            "state": {"values": {k: v for k, v in old_values.items() if k in block_ids}},
            "hash": _new_hash(),
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": (previous or {}).get("previous_view_id"),
            "root_view_id": (previous or {}).get("root_view_id", view_id),
            "app_id": self.app_id,
            "external_id": external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if external_id:
            self._external_ids[external_id] = view_id
        self._views[view_id] = stored
        return copy.deepcopy(stored)

    def _auth_test(self, params: JsonDict) -> JsonDict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Imagerepo Test",
            "user": "imagerepo-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: JsonDict) -> JsonDict:
        # docs.slack.dev/reference/methods/apps.connections.open: {"ok": true, "url": "wss://..."}
        return {"url": self.socket_mode_url}

    def _views_open(self, params: JsonDict) -> JsonDict:
        self._require(params, "trigger_id", "view")
        view = self._check_view(params, "modal")
        self._use_trigger(params)
        return {"view": self._store_view(view)}

    def _views_push(self, params: JsonDict) -> JsonDict:
        self._require(params, "trigger_id", "view")
        view = self._check_view(params, "modal")
        self._use_trigger(params)
        stored = self._store_view(view)
        # The stand-in cannot tell which modal the trigger came from: the
        # pushed view starts its own stack.
        return {"view": stored}

    def _views_update(self, params: JsonDict) -> JsonDict:
        view = self._check_view(params, None)
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise _ApiError(
                "invalid_arguments",
                [
                    "either view_id or external_id is required "
                    f"{tag('views.update.target')} [json-pointer:/]"
                ],
            )
        if view_id:
            current = self._views.get(str(view_id))
        else:
            current = self._views.get(self._external_ids.get(str(external_id), ""))
        if current is None:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        if view["type"] != current["type"]:
            raise _ApiError(
                "invalid_arguments", ["view type cannot change [json-pointer:/view/type]"]
            )
        return {"view": self._store_view(view, previous=current)}

    def _views_publish(self, params: JsonDict) -> JsonDict:
        self._require(params, "user_id", "view")
        view = self._check_view(params, "home")
        user_id = str(params["user_id"])
        current_id = self._home_by_user.get(user_id)
        current = self._views.get(current_id) if current_id else None
        if current is not None and params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        stored = self._store_view(view, previous=current)
        self._home_by_user[user_id] = stored["id"]
        return {"view": stored}

    def _message_text(self, params: JsonDict, method: str = "chat.postMessage") -> str:
        self._check_message(params, method)
        return str(params.get("text") or "")

    def _check_thread(self, params: JsonDict) -> None:
        """``thread_ts`` names a message of the same channel that is not itself a reply."""
        thread_ts = params.get("thread_ts")
        if thread_ts in (None, ""):
            return
        channel = str(params["channel"])
        parent = next(
            (m for m in self._messages if m["channel"] == channel and m["ts"] == str(thread_ts)),
            None,
        )
        if parent is None or parent.get("thread_ts") not in (None, parent["ts"]):
            raise _ApiError(
                "invalid_arguments",
                [
                    f"thread_ts {thread_ts!r} is not a top-level message of {channel} "
                    f"{tag('chat.postMessage.thread_ts')} [json-pointer:/thread_ts]"
                ],
            )

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _check_post_target(self, params: JsonDict) -> None:
        """Where a message may go, as Slack decides it (kept apart from the Block Kit checks).

        - A private channel the bot is not in: ``channel_not_found`` (Slack does not
          reveal it); an archived channel: ``is_archived``; a channel that does not
          exist: ``channel_not_found``. A public channel the bot is not in is fine:
          this app has ``chat:write.public`` (manifest.yml; docs/facts.md, Slack).
        ``thread_ts`` is checked by ``_check_thread`` (rule ``chat.postMessage.thread_ts``).
        """
        channel_id = str(params["channel"])
        config = self._channels.get(channel_id)
        if config is not None:
            if not config["exists"] or (config["is_private"] and not config["is_member"]):
                raise _ApiError("channel_not_found")
            if config["is_archived"]:
                raise _ApiError("is_archived")

    def _chat_post_message(self, params: JsonDict) -> JsonDict:
        self._require(params, "channel")
        self._check_post_target(params)
        # Slack truncates a longer text rather than refusing it (rule message.text).
        text = self._message_text(params)[: rule("message.text").max]
        self._check_thread(params)
        ts = self._next_ts()
        message: JsonDict = {
            "type": "message",
            "channel": str(params["channel"]),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": text,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        self._messages.append(message)
        return {"channel": message["channel"], "ts": ts, "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, params: JsonDict) -> JsonDict:
        self._require(params, "channel", "user")
        text = self._message_text(params, "chat.postEphemeral")
        ts = self._next_ts()
        message: JsonDict = {
            "channel": str(params["channel"]),
            "user": str(params["user"]),
            "text": text,
            "ts": ts,
        }
        if params.get("blocks") is not None:
            message["blocks"] = params["blocks"]
        self._ephemeral.append(message)
        return {"message_ts": ts}

    def _chat_update(self, params: JsonDict) -> JsonDict:
        self._require(params, "channel", "ts")
        self._check_message(params, "chat.update")
        config = self._channels.get(str(params["channel"]))
        if config is not None and config["is_archived"]:
            raise _ApiError("is_archived")
        for message in self._messages:
            if message["channel"] == params["channel"] and message["ts"] == params["ts"]:
                break
        else:
            raise _ApiError("message_not_found")
        for key in ("text", "blocks", "attachments"):
            if params.get(key) is not None:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _users_info(self, params: JsonDict) -> JsonDict:
        self._require(params, "user")
        user_id = str(params["user"])
        config = self._users.get(user_id) or {
            "exists": True,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_bot": False,
            "deleted": False,
            "name": user_id.lower(),
        }
        if not config["exists"]:
            raise _ApiError("user_not_found")
        user: JsonDict = {
            "id": user_id,
            "team_id": self.team_id,
            "name": config["name"],
            "real_name": config["name"],
            "deleted": config["deleted"],
            "is_admin": config["is_admin"],
            "is_owner": config["is_owner"],
            "is_primary_owner": config["is_primary_owner"],
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": config["is_bot"],
            "is_app_user": False,
            "tz": config.get("tz", "UTC"),
            "profile": {"real_name": config["name"], "display_name": config["name"]},
        }
        # Slack adds `user.locale` (an IETF tag such as `ko-KR`) only when the call asks
        # for it: "include_locale: Set this to true to receive the locale for this user.
        # Defaults to false" (https://api.slack.com/methods/users.info, Arguments).
        if str(params.get("include_locale", "")).lower() in ("true", "1"):
            user["locale"] = config.get("locale", "en-US")
        return {"user": user}

    def _conversations_info(self, params: JsonDict) -> JsonDict:
        self._require(params, "channel")
        channel_id = str(params["channel"])
        config = self._channels.get(channel_id) or {
            "exists": True,
            "name": channel_id.lower(),
            "is_private": False,
            "is_member": True,
            "is_archived": False,
        }
        if not config["exists"]:
            raise _ApiError("channel_not_found")
        is_im = channel_id.startswith("D")
        return {
            "channel": {
                "id": channel_id,
                "name": config["name"],
                "is_channel": not is_im and not config["is_private"],
                "is_group": False,
                "is_im": is_im,
                "is_private": config["is_private"],
                "is_member": config["is_member"],
                "is_archived": config["is_archived"],
                "context_team_id": self.team_id,
            }
        }

    def _response_url(self, path: str, params: JsonDict, parse_error: str | None) -> _Reply:
        """A post to a ``response_url``: at most 5 within 30 minutes (rule
        ``response_url.uses``); the 6th is refused (``used_url``: the bot's bug)."""
        now = time.monotonic()
        uses = [t for t in self._response_url_uses.get(path, []) if now - t < RESPONSE_URL_WINDOW]
        limit = rule("response_url.uses").max or 5
        if len(uses) >= limit:
            return _Reply(
                {
                    "ok": False,
                    "error": "used_url",
                    "errors": [
                        f"this response_url already took {len(uses)} messages "
                        f"{tag('response_url.uses')}"
                    ],
                }
            )
        self._response_url_uses[path] = [*uses, now]
        if parse_error is not None:
            return _Reply({"ok": False, "error": parse_error})
        try:
            self._check_message(params, "response_url")
        except _ApiError as exc:
            return _Reply({"ok": False, "error": exc.error, "errors": exc.errors})
        return _Reply({"ok": True})


class _Handler(BaseHTTPRequestHandler):
    """Feeds each HTTP request to its stand-in; HTTP/1.0, one request per connection.

    One request per connection keeps ``set_down`` immediate: no pooled
    keep-alive connection outlives the listener.
    """

    owner: SlackApiStandIn
    server_version = "SlackApiStandIn/1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        reply = self.owner._handle(self.command, self.path, headers, body)
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded calls are the log."""
