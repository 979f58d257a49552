"""Registry authentication: `WWW-Authenticate` challenges, scopes and a token cache.

A registry tells how to authenticate in its challenge (never hard-code a
realm): `Basic realm=...`, or `Bearer realm=...,service=...,scope=...` where a
token comes from the realm.  Tokens are cached until shortly before they expire,
keyed by realm, service, user, a keyed fingerprint of the secret and the scopes,
so a changed (or wrong) password never reuses a token obtained with the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.lru import fresh
from registry.target import Credentials

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
DEFAULT_EXPIRES_IN = 60.0
MAX_EXPIRES_IN = 24 * 3600.0  # a token server may claim anything; we reuse a token a day at most


@dataclass(frozen=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header; scheme in lower case."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def insufficient_scope(self) -> bool:
        return self.error == "insufficient_scope"


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] in _TOKEN_CHARS:
        pos += 1
    return text[start:pos], pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted-string starting at the opening quote; tolerate a missing close quote."""
    pos += 1
    out: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if ch == '"':
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    return "".join(out), pos


def _bare_value(text: str, pos: int) -> tuple[str, int]:
    """An unquoted value runs to the next comma or space (servers leave URLs unquoted)."""
    start = pos
    while pos < len(text) and text[pos] not in ", \t":
        pos += 1
    return text[start:pos], pos


def parse_www_authenticate(values: Iterable[str]) -> list[Challenge]:
    """Parse one or more `WWW-Authenticate` header values into challenges (RFC 7235).

    Lenient on purpose (servers get quoting wrong); never raises, always ends:
    every turn of the loop moves forward.
    """
    challenges: list[Challenge] = []
    for text in values:
        scheme: str | None = None
        params: dict[str, str] = {}
        pos = 0
        while pos < len(text):
            pos = _skip(text, pos, " \t,")
            word, after = _token(text, pos)
            if not word:
                pos += 1
                continue
            probe = _skip(text, after, " \t")
            if scheme is not None and probe < len(text) and text[probe] == "=":
                start = _skip(text, probe + 1, " \t")
                if start < len(text) and text[start] == '"':
                    value, pos = _quoted(text, start)
                else:
                    value, pos = _bare_value(text, start)
                params.setdefault(word.lower(), value)
                continue
            if scheme is not None:
                challenges.append(Challenge(scheme, params))
            scheme, params = word.lower(), {}
            pos = after
        if scheme is not None:
            challenges.append(Challenge(scheme, params))
    return challenges


def select_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    """Prefer Bearer (with a realm) over Basic; None when neither is offered."""
    items = list(challenges)
    for ch in items:
        if ch.scheme == "bearer" and ch.realm:
            return ch
    for ch in items:
        if ch.scheme == "basic":
            return ch
    return None


def repository_scope(name: str, actions: Iterable[str]) -> str:
    return f"repository:{name}:{','.join(actions)}"


_FINGERPRINT_KEY = secrets.token_bytes(32)


def secret_fingerprint(credentials: Credentials | None) -> str:
    """A keyed hash of user and secret: tells secrets apart without storing them."""
    if credentials is None:
        return "anonymous"
    material = f"{credentials.username}\x00{credentials.secret}".encode()
    return hmac.new(_FINGERPRINT_KEY, material, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class TokenKey:
    realm: str
    service: str
    username: str
    fingerprint: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    expires_in: float


def parse_token_response(data: Any) -> Token | None:
    """`token` or `access_token`; `expires_in` defaults to 60 s.  None when there is no token."""
    if not isinstance(data, dict):
        return None
    value = data.get("token") or data.get("access_token")
    if not isinstance(value, str) or not value:
        return None
    expires = data.get("expires_in")
    expires_in = DEFAULT_EXPIRES_IN
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
        expires_in = float(min(expires, MAX_EXPIRES_IN))  # min first: 10**400 has no float
    return Token(value=value, expires_in=expires_in)


class TokenCache:
    """Bearer tokens until shortly before expiry, per registry, user, secret and scope."""

    def __init__(
        self, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: OrderedDict[TokenKey, tuple[str, float]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    def get(self, key: TokenKey) -> str | None:
        return fresh(self._entries, key, self._clock())

    def put(self, key: TokenKey, token: Token) -> None:
        lifetime = min(token.expires_in - 5.0, token.expires_in * 0.9)
        if lifetime <= 0:
            return
        self._entries[key] = (token.value, self._clock() + lifetime)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, key: TokenKey) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
