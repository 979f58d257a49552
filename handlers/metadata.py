"""Signed private_metadata: what a modal or the Home tab remembers, and proof that the bot
wrote it.

Slack hands a view's `private_metadata` back with every action and submission. It
is the bot's own text, but a forged or edited payload could carry any ids (a
channel whose project is not the user's, a repository of another channel, a
"this just passed the test" stamp). So every metadata the bot writes is a JSON
object signed with HMAC-SHA256, under a key derived with HKDF from the configured
secret keys (the same on every instance); a signature by any configured key is
accepted, so a key rotation does not break open modals. Reading refuses anything
else with `ForgedMetadata`.

The keys are set once per process by `configure` when the Slack app is built;
until then a random key signs (what it signs is only good inside this process).

Bound to the person (issue 18, item 7): metadata written while a request of user U is
handled carries U (`u`), and a request of any other user that hands it back is refused
like a forgery, so another member's `view_submission` cannot replay U1's add modal (and
save with U1's channel and passing test). Every listener runs bound to the user Slack
names in its payload (`bind_request`, from the global middleware). The view id cannot be
bound: it is only known after `views.open` returned, while the metadata goes into that
call; within one person's views the kind (the modal's callback) is bound instead, and
every id in the metadata is checked again against that person's rights (docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from storage.crypto import SecretBox

PURPOSE = "slack-private-metadata-v1"
MAX_LENGTH = 3000  # Slack's limit for private_metadata
SIGNATURE = "sig"
KIND = "k"
USER = "u"
FORGED = (
    "This window's data did not come from this app (it was changed, or the app's keys "
    "changed since it opened). Close it and start again."
)

_keys: tuple[bytes, ...] = (secrets.token_bytes(32),)
# The Slack user whose request is being handled (None: outside any request, e.g. a unit
# test of a builder; "" inside a request whose payload names no user).
_user: ContextVar[str | None] = ContextVar("metadata_user", default=None)


def bind_request(body: Mapping[str, Any]) -> None:
    """Called first for every request (the global middleware in `handlers`): what this
    request's listener seals is bound to the user Slack names in `body`, and only what is
    bound to them is read. Bolt runs the listener after the middleware in the request's
    own task (or a task created from it), which sees this value; the next request sets
    its own."""
    _user.set(requesting_user(body))


def requesting_user(body: Mapping[str, Any]) -> str:
    """The user Slack names in a payload (interactivity, command, event), "" if none."""
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id") or "")
    if body.get("user_id"):
        return str(body["user_id"])
    event = body.get("event")
    if isinstance(event, Mapping) and event.get("user"):
        return str(event["user"])
    return str(user or "")


@contextmanager
def issued_for(user_id: str) -> Iterator[None]:
    """Handle a request of `user_id`: what is sealed meanwhile is bound to them, and
    only metadata bound to them is read."""
    token = _user.set(user_id)
    try:
        yield
    finally:
        _user.reset(token)


class ForgedMetadata(ValueError):
    """The metadata is missing, malformed, or not signed by any configured key."""


def configure(box: SecretBox) -> None:
    """Sign with the first configured key; accept any (called when the app is built)."""
    global _keys
    _keys = box.derive_keys(PURPOSE)


def _canonical(kind: str, data: Mapping[str, Any]) -> bytes:
    body = {key: value for key, value in data.items() if key not in (SIGNATURE, KIND)}
    return json.dumps(
        {KIND: kind, **body}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode()


def _mac(key: bytes, material: bytes) -> str:
    digest = hmac.new(key, material, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def seal(kind: str, data: Mapping[str, Any]) -> str:
    """`data` (str/int/bool values) as signed JSON for `kind` ("add", "manage", ...),
    bound to the user of the request being handled, if any."""
    user = _user.get()
    if user is not None:
        data = {**data, USER: user}
    material = _canonical(kind, data)
    text = json.dumps(
        {KIND: kind, **data, SIGNATURE: _mac(_keys[0], material)},
        separators=(",", ":"),
        ensure_ascii=True,
    )
    if len(text) > MAX_LENGTH:  # only a bug of ours: metadata holds ids and digests
        raise ValueError("private_metadata would exceed Slack's 3,000 characters")
    return text


def unseal(kind: str, text: str) -> dict[str, Any]:
    """The data `seal(kind, ...)` signed, or ForgedMetadata for anything else."""
    if not text or len(text) > MAX_LENGTH:
        raise ForgedMetadata("no signed metadata")
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise ForgedMetadata("metadata is not JSON") from None
    if not isinstance(data, dict) or data.get(KIND) != kind:
        raise ForgedMetadata("metadata of another kind")
    signature = data.pop(SIGNATURE, None)
    if not isinstance(signature, str):
        raise ForgedMetadata("metadata is not signed")
    material = _canonical(kind, data)
    if not any(hmac.compare_digest(_mac(key, material), signature) for key in _keys):
        raise ForgedMetadata("metadata signature does not match")
    data.pop(KIND, None)
    user = _user.get()
    issued = data.pop(USER, None)
    if user is not None and issued != user:
        raise ForgedMetadata("metadata issued to another user")
    return data
