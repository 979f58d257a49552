"""Requests exactly as Slack sends them to the bot: signed bodies and payload builders.

In the end-to-end tests the tests *are* Slack: they build the body Slack would
POST to ``/slack/events`` (a slash command form, an interactivity form whose
``payload`` field is JSON, or an Events API JSON body), sign it with the app's
signing secret the way Slack does (``v0`` HMAC-SHA256 over
``v0:{timestamp}:{body}``) and post it. Shapes follow Slack's documented
payloads (docs.slack.dev: slash commands, ``block_actions``,
``view_submission``, ``view_closed``, ``block_suggestion``, ``app_home_opened``)
so that Bolt parses and routes them as it would in production.

Builders return the raw ``bytes`` body; ``content_type_of(body)`` tells form
from JSON (a Slack form body never starts with ``{``). ``SlackClient`` posts
them with valid, wrong or stale signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

import httpx

if TYPE_CHECKING:
    from tests.support.slack_api import SlackApiStandIn

__all__ = [
    "FORM_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "FieldRef",
    "SlackClient",
    "app_home_opened",
    "block_actions",
    "block_suggestion",
    "button_action",
    "checkboxes_action",
    "checkboxes_value",
    "content_type_of",
    "decode_payload",
    "external_select_action",
    "external_select_value",
    "find_button",
    "find_input",
    "member_joined_channel",
    "new_trigger_id",
    "option",
    "overflow_action",
    "plain_text_input_action",
    "plain_text_value",
    "radio_buttons_action",
    "radio_buttons_value",
    "sign",
    "slash_command",
    "state_values",
    "static_select_action",
    "static_select_value",
    "url_verification",
    "values_by_label",
    "view_closed",
    "view_submission",
]

JsonDict = dict[str, Any]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
# Slack still sends the deprecated verification token; Bolt ignores it when a
# signing secret is configured, which is what these tests rely on.
VERIFICATION_TOKEN = "legacy-verification-token"
DEFAULT_APP_ID = "A1"
DEFAULT_TEAM_DOMAIN = "imagerepo-test"

_counter = itertools.count(1)


# --------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------


def content_type_of(body: bytes) -> str:
    """The content type Slack uses for ``body``: JSON for Events API, form otherwise."""
    return JSON_CONTENT_TYPE if body.lstrip().startswith(b"{") else FORM_CONTENT_TYPE


def sign(
    body: bytes,
    secret: str,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
) -> dict[str, str]:
    """The headers Slack sends with ``body``: timestamp, ``v0=`` signature, content type.

    The signature is HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed with the
    signing secret (Slack's "Verifying requests" scheme, what
    ``slack_sdk.signature.SignatureVerifier`` checks). ``timestamp`` defaults
    to now; pass an old one to produce a replayed/stale request.
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    base = b"v0:" + str(ts).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type or content_type_of(body),
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


# --------------------------------------------------------------------------
# Small pieces of payloads
# --------------------------------------------------------------------------


def new_trigger_id() -> str:
    """A fresh trigger id shaped like Slack's (``"13345224609.738474920.8088930838d88f0"``)."""
    return f"{secrets.randbelow(10**11)}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _default_response_url(team_id: str) -> str:
    # Slack's real shape. The bot cannot reach it here: pass a stand-in's
    # ``new_response_url()`` when the bot is expected to respond() through it.
    return f"https://hooks.slack.com/commands/{team_id}/{next(_counter)}/{secrets.token_hex(12)}"


def _user(user_id: str, team_id: str) -> JsonDict:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(team_id: str) -> JsonDict:
    return {"id": team_id, "domain": DEFAULT_TEAM_DOMAIN}


def _form(fields: Mapping[str, Any]) -> bytes:
    """Form-encode like Slack (``+`` for spaces, ``%2F`` for ``/``)."""
    return urlencode({k: v for k, v in fields.items() if v is not None}).encode()


def _interactive(payload: JsonDict) -> bytes:
    """Interactivity bodies are a form with one field, ``payload``, holding JSON."""
    return _form({"payload": json.dumps(payload, separators=(",", ":"))})


def decode_payload(body: bytes) -> JsonDict:
    """The JSON inside a built body (the ``payload`` form field, or the JSON body)."""
    if content_type_of(body) == JSON_CONTENT_TYPE:
        decoded = json.loads(body)
    else:
        fields = parse_qs(body.decode(), keep_blank_values=True)
        decoded = (
            json.loads(fields["payload"][0])
            if "payload" in fields
            else {k: v[-1] for k, v in fields.items()}
        )
    if not isinstance(decoded, dict):
        raise ValueError("body does not hold a JSON object")
    return decoded


def option(value: str, text: str | None = None) -> JsonDict:
    """An option object as Slack puts it in ``selected_option``."""
    return {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}


def _options(values: Iterable[str | tuple[str, str]]) -> list[JsonDict]:
    return [option(*v) if isinstance(v, tuple) else option(v) for v in values]


# -- state.values entries (what the user typed or chose) -------------------


def plain_text_value(value: str | None) -> JsonDict:
    """A ``plain_text_input`` state entry; ``None`` is an untouched field."""
    return {"type": "plain_text_input", "value": value}


def static_select_value(value: str | None, text: str | None = None) -> JsonDict:
    """A ``static_select`` state entry; ``None`` means nothing chosen."""
    return {
        "type": "static_select",
        "selected_option": option(value, text) if value is not None else None,
    }


def external_select_value(value: str | None, text: str | None = None) -> JsonDict:
    """An ``external_select`` state entry (options came from block_suggestion)."""
    return {
        "type": "external_select",
        "selected_option": option(value, text) if value is not None else None,
    }


def checkboxes_value(*values: str | tuple[str, str]) -> JsonDict:
    """A ``checkboxes`` state entry: values (or ``(value, text)``) of the ticked boxes."""
    return {"type": "checkboxes", "selected_options": _options(values)}


def radio_buttons_value(value: str | None, text: str | None = None) -> JsonDict:
    """A ``radio_buttons`` state entry."""
    return {
        "type": "radio_buttons",
        "selected_option": option(value, text) if value is not None else None,
    }


def state_values(*entries: tuple[str, str, JsonDict]) -> dict[str, dict[str, JsonDict]]:
    """Build ``state.values`` from ``(block_id, action_id, entry)`` triples."""
    values: dict[str, dict[str, JsonDict]] = {}
    for block_id, action_id, entry in entries:
        values.setdefault(block_id, {})[action_id] = entry
    return values


# -- finding fields in a view by the words users see -----------------------


@dataclass(frozen=True)
class FieldRef:
    """Where an input or button lives in a view: the ids Slack reports back."""

    block_id: str
    action_id: str
    element: JsonDict


def _blocks_of(view_or_blocks: Mapping[str, Any] | Sequence[Any]) -> list[JsonDict]:
    if isinstance(view_or_blocks, Mapping):
        blocks = view_or_blocks.get("blocks", [])
    else:
        blocks = view_or_blocks
    return [b for b in blocks if isinstance(b, dict)]


def _plain(text: Any) -> str:
    if isinstance(text, dict):
        return str(text.get("text", ""))
    return str(text or "")


def find_input(view_or_blocks: Mapping[str, Any] | Sequence[Any], label: str) -> FieldRef:
    """The input block labelled exactly ``label`` (DESIGN.md: tests find fields by words)."""
    blocks = _blocks_of(view_or_blocks)
    for block in blocks:
        if block.get("type") == "input" and _plain(block.get("label")) == label:
            element = block.get("element", {})
            return FieldRef(str(block.get("block_id")), str(element.get("action_id")), element)
    labels = [_plain(b.get("label")) for b in blocks if b.get("type") == "input"]
    raise AssertionError(f"no input labelled {label!r}; inputs: {labels}")


def find_button(view_or_blocks: Mapping[str, Any] | Sequence[Any], text: str) -> FieldRef:
    """The button whose text is ``text``, in an actions block or a section accessory."""
    seen: list[str] = []
    for block in _blocks_of(view_or_blocks):
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                seen.append(_plain(element.get("text")))
                if _plain(element.get("text")) == text:
                    return FieldRef(
                        str(block.get("block_id")), str(element.get("action_id")), element
                    )
    raise AssertionError(f"no button {text!r}; buttons: {seen}")


def _declared_options(element: Mapping[str, Any]) -> dict[str, JsonDict]:
    found: dict[str, JsonDict] = {}
    for opt in element.get("options", []) or []:
        found[str(opt.get("value"))] = opt
    for group in element.get("option_groups", []) or []:
        for opt in group.get("options", []) or []:
            found[str(opt.get("value"))] = opt
    return found


def values_by_label(
    view: Mapping[str, Any], entries: Mapping[str, JsonDict]
) -> dict[str, dict[str, JsonDict]]:
    """``state.values`` keyed by field labels, e.g. ``{"Registry URL": plain_text_value(u)}``.

    Chosen options are replaced by the option object the view declared (same
    text, description...), because that is what Slack sends back.
    """
    values: dict[str, dict[str, JsonDict]] = {}
    for label, entry in entries.items():
        ref = find_input(view, label)
        entry = dict(entry)
        declared = _declared_options(ref.element)
        if entry.get("selected_option") and declared:
            chosen = str(entry["selected_option"]["value"])
            entry["selected_option"] = declared.get(chosen, entry["selected_option"])
        if entry.get("selected_options") and declared:
            entry["selected_options"] = [
                declared.get(str(o["value"]), o) for o in entry["selected_options"]
            ]
        values.setdefault(ref.block_id, {})[ref.action_id] = entry
    return values


# -- actions (one entry of block_actions' "actions") -----------------------


def button_action(
    action_id: str, block_id: str, *, value: str | None = None, text: str = "Button"
) -> JsonDict:
    """A button click."""
    action: JsonDict = {
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "type": "button",
        "action_ts": _action_ts(),
    }
    if value is not None:
        action["value"] = value
    return action


def static_select_action(
    action_id: str, block_id: str, value: str, *, text: str | None = None
) -> JsonDict:
    """A choice in a static select (an input block with ``dispatch_action`` or an actions block)."""
    return {
        "type": "static_select",
        "action_id": action_id,
        "block_id": block_id,
        "selected_option": option(value, text),
        "action_ts": _action_ts(),
    }


def external_select_action(
    action_id: str, block_id: str, value: str, *, text: str | None = None
) -> JsonDict:
    """A choice in an external select."""
    return {
        **static_select_action(action_id, block_id, value, text=text),
        "type": "external_select",
    }


def overflow_action(
    action_id: str, block_id: str, value: str, *, text: str | None = None
) -> JsonDict:
    """A choice in an overflow menu (e.g. a list row's ``Delete``)."""
    return {
        "type": "overflow",
        "action_id": action_id,
        "block_id": block_id,
        "selected_option": option(value, text),
        "action_ts": _action_ts(),
    }


def checkboxes_action(action_id: str, block_id: str, *values: str | tuple[str, str]) -> JsonDict:
    """Ticking/unticking checkboxes: the options ticked afterwards."""
    return {
        "type": "checkboxes",
        "action_id": action_id,
        "block_id": block_id,
        "selected_options": _options(values),
        "action_ts": _action_ts(),
    }


def radio_buttons_action(
    action_id: str, block_id: str, value: str, *, text: str | None = None
) -> JsonDict:
    """Choosing a radio button."""
    return {
        "type": "radio_buttons",
        "action_id": action_id,
        "block_id": block_id,
        "selected_option": option(value, text),
        "action_ts": _action_ts(),
    }


def plain_text_input_action(action_id: str, block_id: str, value: str) -> JsonDict:
    """Enter pressed in a text input with ``dispatch_action``."""
    return {
        "type": "plain_text_input",
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "action_ts": _action_ts(),
    }


# --------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------


def slash_command(
    text: str,
    *,
    user_id: str = "U1",
    channel_id: str = "C1",
    channel_name: str = "general",
    team_id: str = "T1",
    trigger_id: str | None = None,
    command: str = "/imagerepo",
    response_url: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """The form body of a slash command, fields in Slack's order."""
    return _form(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": DEFAULT_TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or _default_response_url(team_id),
            "trigger_id": trigger_id or new_trigger_id(),
        }
    )


def _payload_view(view: Mapping[str, Any], values: Mapping[str, Any] | None) -> JsonDict:
    """A view as it appears inside a payload, with the user's current state."""
    out: JsonDict = json.loads(json.dumps(view))  # a deep, JSON-clean copy
    out.setdefault("state", {"values": {}})
    if values is not None:
        out["state"] = {"values": json.loads(json.dumps(values))}
    return out


def block_actions(
    actions: Sequence[JsonDict],
    *,
    user_id: str = "U1",
    team_id: str = "T1",
    channel_id: str | None = None,
    view: Mapping[str, Any] | None = None,
    message: Mapping[str, Any] | None = None,
    container: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    values: Mapping[str, Any] | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """A ``block_actions`` interactivity body from a modal/home (``view``) or a message.

    ``values`` is the surface's ``state.values`` at the time of the action
    (Slack sends what is typed so far). From a view, ``container`` defaults to
    ``{"type": "view", "view_id": view["id"]}``; from a message it names the
    message and channel, and Slack adds a ``response_url``.
    """
    payload: JsonDict = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [{"action_ts": _action_ts(), **a} for a in actions],
    }
    if view is not None:
        payload["container"] = dict(container or {"type": "view", "view_id": view.get("id")})
        payload["view"] = _payload_view(view, values)
    else:
        message_ts = (message or {}).get("ts") or f"{time.time():.6f}"
        payload["container"] = dict(
            container
            or {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
        )
        payload["message"] = dict(message or {"type": "message", "ts": message_ts, "text": ""})
        payload["state"] = {"values": dict(values or {})}
        payload["response_url"] = response_url or _default_response_url(team_id)
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": channel_id.lower()}
    return _interactive(payload)


def view_submission(
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    user_id: str = "U1",
    team_id: str = "T1",
    trigger_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """The user pressed the modal's submit button; ``values`` is ``state.values``."""
    return _interactive(
        {
            "type": "view_submission",
            "team": _team(team_id),
            "user": _user(user_id, team_id),
            "api_app_id": api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id or new_trigger_id(),
            "view": _payload_view(view, values),
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
    )


def view_closed(
    view: Mapping[str, Any],
    *,
    user_id: str = "U1",
    team_id: str = "T1",
    is_cleared: bool = False,
    values: Mapping[str, Any] | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """The user closed a modal opened with ``notify_on_close``."""
    return _interactive(
        {
            "type": "view_closed",
            "team": _team(team_id),
            "user": _user(user_id, team_id),
            "api_app_id": api_app_id,
            "token": VERIFICATION_TOKEN,
            "view": _payload_view(view, values),
            "is_cleared": is_cleared,
            "enterprise": None,
            "is_enterprise_install": False,
        }
    )


def block_suggestion(
    action_id: str,
    block_id: str,
    value: str,
    *,
    view: Mapping[str, Any],
    user_id: str = "U1",
    team_id: str = "T1",
    values: Mapping[str, Any] | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """An external select asks for options matching what the user typed (``value``).

    Bolt routes it to ``app.options(...)``; the options are the HTTP response.
    """
    return _interactive(
        {
            "type": "block_suggestion",
            "user": _user(user_id, team_id),
            "container": {"type": "view", "view_id": view.get("id")},
            "api_app_id": api_app_id,
            "token": VERIFICATION_TOKEN,
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "team": _team(team_id),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": _payload_view(view, values),
        }
    )


def member_joined_channel(
    user_id: str,
    channel: str,
    *,
    team_id: str = "T1",
    bot_user_id: str = "UBOT",
    channel_type: str = "G",
    inviter: str = "U1",
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """An Events API ``event_callback`` body for ``member_joined_channel`` (JSON): docs.slack.dev,
    events/member_joined_channel (``channel_type`` C public, G private)."""
    now = time.time()
    event: JsonDict = {
        "type": "member_joined_channel",
        "user": user_id,
        "channel": channel,
        "channel_type": channel_type,
        "team": team_id,
        "inviter": inviter,
        "event_ts": f"{now:.6f}",
    }
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": secrets.token_hex(16),
    }
    return json.dumps(body).encode()


def app_home_opened(
    user_id: str = "U1",
    *,
    team_id: str = "T1",
    bot_user_id: str = "UBOT",
    tab: str = "home",
    view: Mapping[str, Any] | None = None,
    channel: str = "D1",
    event_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """An Events API ``event_callback`` body for ``app_home_opened`` (JSON)."""
    now = time.time()
    event: JsonDict = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel,
        "tab": tab,
        "event_ts": f"{now:.6f}",
    }
    if view is not None:
        event["view"] = _payload_view(view, None)
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": secrets.token_hex(16),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def url_verification(challenge: str = "challenge-token") -> bytes:
    """The Events API handshake Slack sends when the request URL is configured."""
    return json.dumps(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    ).encode()


# --------------------------------------------------------------------------
# Posting
# --------------------------------------------------------------------------


class SlackClient:
    """Posts signed bodies to the bot's events URL, like Slack does.

    ``transport`` lets a test talk to the ASGI app in-process
    (``httpx.ASGITransport(app)``) instead of a running server. Given a
    ``standin``, slash commands and message actions get a ``response_url``
    served by it, so the bot's ``respond()`` is recorded instead of failing.
    The convenience methods fill ``user_id``/``team_id`` from the client.
    """

    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        *,
        standin: SlackApiStandIn | None = None,
        user_id: str = "U1",
        team_id: str = "T1",
        channel_id: str = "C1",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.user_id = user_id
        self.team_id = team_id
        self.channel_id = channel_id
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> SlackClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def post(
        self,
        body: bytes,
        content_type: str | None = None,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``body`` with a valid signature (or one made with ``secret``)."""
        signed = sign(body, secret or self.signing_secret, timestamp, content_type=content_type)
        return await self._http.post(
            self.events_url, content=body, headers={**signed, **(headers or {})}
        )

    async def post_bad_signature(
        self, body: bytes, content_type: str | None = None
    ) -> httpx.Response:
        """Signed with the wrong secret: the bot must answer 401 and do nothing."""
        return await self.post(body, content_type, secret=self.signing_secret + "-wrong")

    async def post_tampered(self, body: bytes, content_type: str | None = None) -> httpx.Response:
        """Signed for ``body`` but sent with one byte appended (a modified request)."""
        signed = sign(body, self.signing_secret, content_type=content_type)
        return await self._http.post(self.events_url, content=body + b" ", headers=signed)

    async def post_stale(
        self, body: bytes, content_type: str | None = None, *, age: int = 6 * 60
    ) -> httpx.Response:
        """Correctly signed but ``age`` seconds old (Slack's replay window is 5 minutes)."""
        return await self.post(body, content_type, timestamp=int(time.time()) - age)

    async def post_unsigned(self, body: bytes, content_type: str | None = None) -> httpx.Response:
        """No signature headers at all."""
        return await self._http.post(
            self.events_url,
            content=body,
            headers={"Content-Type": content_type or content_type_of(body)},
        )

    def _response_url(self, given: str | None) -> str | None:
        if given is not None or self.standin is None:
            return given
        return self.standin.new_response_url()

    async def command(self, text: str, **kwargs: Any) -> httpx.Response:
        """``/imagerepo text`` from this client's user in its channel."""
        kwargs.setdefault("user_id", self.user_id)
        kwargs.setdefault("team_id", self.team_id)
        kwargs.setdefault("channel_id", self.channel_id)
        kwargs["response_url"] = self._response_url(kwargs.get("response_url"))
        return await self.post(slash_command(text, **kwargs))

    async def action(self, actions: Sequence[JsonDict], **kwargs: Any) -> httpx.Response:
        """``block_actions`` (see ``block_actions``)."""
        kwargs.setdefault("user_id", self.user_id)
        kwargs.setdefault("team_id", self.team_id)
        if kwargs.get("view") is None:
            kwargs.setdefault("channel_id", self.channel_id)
            kwargs["response_url"] = self._response_url(kwargs.get("response_url"))
        return await self.post(block_actions(actions, **kwargs))

    async def submit(
        self, view: Mapping[str, Any], values: Mapping[str, Any], **kwargs: Any
    ) -> httpx.Response:
        """``view_submission``; the HTTP response carries ``response_action`` if any.

        The answer is checked as Slack checks it (``validate_response_action``:
        errors keyed by input block_ids of ``view``, a valid modal for update and
        push). One Slack would reject is recorded as a violation on the stand-in
        and fails the test here.
        """
        from tests.support.slack_api import validate_response_action

        kwargs.setdefault("user_id", self.user_id)
        kwargs.setdefault("team_id", self.team_id)
        response = await self.post(view_submission(view, values, **kwargs))
        if response.status_code == 200 and response.content.strip():
            try:
                answer: Any = response.json()
            except ValueError:
                answer = response.text
            problems = validate_response_action(answer, dict(view))
            if problems:
                if self.standin is not None:
                    self.standin.record_violation(
                        "view_submission", "invalid_response_action", problems, {"answer": answer}
                    )
                raise AssertionError(f"Slack would reject this view_submission answer: {problems}")
        return response

    async def close_view(self, view: Mapping[str, Any], **kwargs: Any) -> httpx.Response:
        """``view_closed``."""
        kwargs.setdefault("user_id", self.user_id)
        kwargs.setdefault("team_id", self.team_id)
        return await self.post(view_closed(view, **kwargs))

    async def suggest(
        self, action_id: str, block_id: str, value: str, **kwargs: Any
    ) -> httpx.Response:
        """``block_suggestion``; the HTTP response body holds the options.

        The answer is checked as Slack checks it (``validate_options_answer``: at
        most 100 options); one Slack would not show is recorded as a violation on
        the stand-in and fails the test here.
        """
        from tests.support.slack_api import validate_options_answer

        kwargs.setdefault("user_id", self.user_id)
        kwargs.setdefault("team_id", self.team_id)
        response = await self.post(block_suggestion(action_id, block_id, value, **kwargs))
        if response.status_code == 200 and response.content.strip():
            problems = validate_options_answer(response.json())
            if problems:
                if self.standin is not None:
                    self.standin.record_violation(
                        "block_suggestion", "invalid_options", problems, {}
                    )
                raise AssertionError(f"Slack would not show these options: {problems}")
        return response

    async def home_opened(self, **kwargs: Any) -> httpx.Response:
        """``app_home_opened`` for this client's user."""
        kwargs.setdefault("team_id", self.team_id)
        return await self.post(app_home_opened(kwargs.pop("user_id", self.user_id), **kwargs))
