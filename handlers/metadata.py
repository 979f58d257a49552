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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from storage.crypto import SecretBox

PURPOSE = "slack-private-metadata-v1"
MAX_LENGTH = 3000  # Slack's limit for private_metadata
SIGNATURE = "sig"
KIND = "k"
FORGED = (
    "This window's data did not come from this app (it was changed, or the app's keys "
    "changed since it opened). Close it and start again."
)

_keys: tuple[bytes, ...] = (secrets.token_bytes(32),)


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
    """`data` (str/int/bool values) as signed JSON for `kind` ("add", "manage", ...)."""
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
    return data
