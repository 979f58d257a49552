"""What one scheduled re-check pass shares between its connection tests (issue #24).

A pass tests hundreds of saved entries that mostly live on a few registries and
use a few credentials. Asked one by one, each entry would ping `/v2/` and ask the
token realm for itself, although the answers are the same for all of them:

- `/v2/` is asked once per registry (base URL, TLS options) and its answer reused
  for every entry there, with one request even when 50 entries ask at once
  (single flight). A failed ping fails the entries that asked for it with the
  same error (one shared cause) and is asked again after `FAILED_PING_REUSE`
  seconds, so a blip does not fail a whole long pass. A registry that goes
  away after its ping answered (an entry's own request is refused, or its name
  stops resolving) is held failed the same way (`unreachable`): the entries
  after it fail at "reachable" with that one cause, not each at a later step.
- A Bearer token realm is asked once per credential and realm for all of that
  credential's repositories, with one `scope` parameter per repository
  (distribution `docs/spec/auth/token.md`, "Requesting a Token": the `scope`
  parameter "should be specified multiple times if there is more than one scope
  entry"; `docs/spec/auth/scope.md`: multiple scopes are multiple `scope`
  parameters on GET). The token server answers with the intersection of what was
  asked and what the account may do, never an error for the part it refuses
  (token.md, "it must not be considered an error"), and a token's `access`
  claims need not be readable by a client. So a shared token is only a first
  try: when the access check answers that the token is not enough (401
  insufficient_scope, 403), that one entry asks the realm alone, and one
  forbidden repository cannot fail the others (`OciSession._authorized`).
- The repositories the pass has claimed but not yet started are announced with
  `expect`, so their scopes ride along in the next token request: most entries
  find their token already fetched and cost exactly one request (the access
  check). At most one request per credential and realm is in flight; scopes that
  come up meanwhile go together in the next one.

The cache lives for one pass (the Rechecker makes one per pass and `close`s it)
and serves only its own keys: a ping is keyed by the registry's base URL and TLS
options, a token by that, the realm, the service and the keyed fingerprint of the
credential (`auth.secret_fingerprint`), never the secret. An entry reaches a
realm's token only after its own pins allowed that realm (`OciSession._realm`);
an announced entry joins a request only if its pins allow the realm too.

Requests made for the pass as a whole are counted in `stats` (not in any entry's
result); the Rechecker adds them to the pass's round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from registry.auth import Token
from registry.errors import ErrorKind, RegistryError
from registry.http import Stats
from registry.target import OriginPins, TlsOptions

if TYPE_CHECKING:
    from registry.oci import Ping

FAILED_PING_REUSE = 5.0
"""Seconds a failed `/v2/` answer is reused before the next entry asks again."""

MAX_TOKEN_URL = 8000
"""A token request's URL stays under this many bytes (8 KB is a common server limit)."""

MAX_SCOPES = 50
"""Scopes per token request: the token carries one `access` entry per scope, and an
Authorization header much over ~8 KB is refused by common proxies (nginx's default
`large_client_header_buffers` is 8 KB); 50 repository entries stay near 4 KB."""

# The actions a refused batch falls back for: the realm refused the whole request
# (a wrong password, or Docker Hub refusing push for a read-only token), so each
# entry asks alone and gets its own answer and error.
_REFUSALS = (ErrorKind.AUTHENTICATION_FAILED, ErrorKind.PERMISSION_DENIED)

UNREACHABLE = (ErrorKind.CONNECTION_REFUSED, ErrorKind.DNS_FAILURE)
"""Errors of an entry's own request that mean its registry is gone, not a blip of one
connection (a timeout or a dropped keep-alive connection may be either)."""

_CURRENT: ContextVar[PassCache | None] = ContextVar("registry_pass_cache", default=None)

Fetch = Callable[[list[str], Stats], Awaitable[Token]]
"""Ask the realm for a token covering these scopes, counting the request in `stats`."""


def current() -> PassCache | None:
    """The pass cache the running connection test may use (None: a lone test)."""
    return _CURRENT.get()


@contextlib.contextmanager
def sharing(cache: PassCache | None) -> Iterator[None]:
    """Let the connection test run inside this block use `cache` (None: nothing shared)."""
    token = _CURRENT.set(cache)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@dataclass(frozen=True)
class PingKey:
    """One registry as a ping sees it; the answer serves no other base URL or TLS options."""

    base: str
    tls: TlsOptions
    with_credentials: bool  # decides whether a redirect to another origin is refused
    label: str


@dataclass(frozen=True)
class CredentialKey:
    """One credential on one registry: where announced repositories are filed."""

    base: str
    tls: TlsOptions
    fingerprint: str


@dataclass(frozen=True)
class BookKey:
    """One credential, registry and token realm: the tokens fetched for them."""

    where: CredentialKey
    realm: str
    service: str
    realm_origin: str


@dataclass
class _Outcome:
    """How a token request ended for the scopes it carried."""

    error: RegistryError | None = None
    refused: bool = False  # the realm refused the batch: each entry asks alone


@dataclass
class _Book:
    key: BookKey
    fetch: Fetch
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # scope -> token, until
    flights: dict[str, asyncio.Future[_Outcome]] = field(default_factory=dict)
    pending: dict[str, None] = field(default_factory=dict)  # ordered set, not asked yet
    waiting: asyncio.Future[_Outcome] | None = None  # settles when `pending` was asked
    running: bool = False
    scheduled: bool = False  # a launch is due at the loop's next turn
    alone: bool = False


def pins_allow(pins: OriginPins | None, realm_origin: str) -> bool:
    """The rule of `OciSession._check_realm_pin`: an entry's password may go to its
    pinned realm or to its registry's own origin (or anywhere, before it was pinned)."""
    return pins is None or realm_origin in (pins.realm, pins.registry)


def _query_bytes(name: str, value: str) -> int:
    return len(name) + 2 + len(quote(value, safe=""))


def chunks(realm: str, service: str, scopes: list[str]) -> list[list[str]]:
    """Split `scopes` into token requests of at most MAX_SCOPES scopes whose URL
    (realm, `service`, repeated `scope`) stays under MAX_TOKEN_URL bytes."""
    base = len(realm) + (_query_bytes("service", service) if service else 0)
    out: list[list[str]] = []
    current_chunk: list[str] = []
    size = base
    for scope in scopes:
        extra = _query_bytes("scope", scope)
        if current_chunk and (size + extra > MAX_TOKEN_URL or len(current_chunk) >= MAX_SCOPES):
            out.append(current_chunk)
            current_chunk, size = [], base
        current_chunk.append(scope)
        size += extra
    if current_chunk:
        out.append(current_chunk)
    return out


class PassCache:
    """Pings and tokens shared by the connection tests of one pass; `close()` at its end."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.stats = Stats()  # round trips of the requests made for the pass as a whole
        self.pings = 0
        self.token_requests = 0
        self._clock = clock
        self._pings: dict[PingKey, tuple[asyncio.Future[Ping], list[float]]] = {}
        self._expected: dict[CredentialKey, dict[str, OriginPins | None]] = {}
        self._books: dict[BookKey, _Book] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- pings ----------------------------------------------------------------------------

    async def ping(self, key: PingKey, ask: Callable[[Stats], Awaitable[Ping]]) -> Ping:
        """The registry's `/v2/` answer: asked once (`ask`), then shared; its error too."""
        held = self._pings.get(key)
        if held is not None:
            task, settled = held
            stale = task.done() and (
                task.cancelled()
                or (task.exception() is not None and self._clock() - settled[0] > FAILED_PING_REUSE)
            )
            if not stale:
                return await asyncio.shield(task)
        settled_at = [0.0]
        task = asyncio.create_task(self._ask_ping(ask, settled_at), name="shared-ping")
        self._pings[key] = (task, settled_at)
        self.pings += 1
        return await asyncio.shield(task)

    def unreachable(self, key: PingKey, error: RegistryError) -> None:
        """An entry's own request found the registry gone (`UNREACHABLE`) after its ping
        had answered: hold the ping failed with `error`, as if it had failed, so the
        entries after it fail at "reachable" with this one cause (and it is asked
        again after FAILED_PING_REUSE seconds). A ping being asked is left alone."""
        held = self._pings.get(key)
        if self._closed or held is None or error.kind not in UNREACHABLE:
            return
        answer, _ = held
        if not answer.done() or answer.cancelled() or answer.exception() is not None:
            return
        failed: asyncio.Future[Ping] = asyncio.get_running_loop().create_future()
        failed.set_exception(error)
        failed.exception()  # retrieved: nobody may ask again before it is replaced
        self._pings[key] = (failed, [self._clock()])

    async def _ask_ping(
        self, ask: Callable[[Stats], Awaitable[Ping]], settled: list[float]
    ) -> Ping:
        try:
            return await ask(self.stats)
        finally:
            settled[0] = self._clock()

    # -- tokens ---------------------------------------------------------------------------

    def expect(self, where: CredentialKey, scope: str, pins: OriginPins | None) -> None:
        """A claimed entry that will need `scope` with this credential soon: ask for it
        in the next token request for that credential (if its pins allow the realm)."""
        if self._closed:
            return
        self._expected.setdefault(where, {})[scope] = pins
        for book in self._books.values():
            if (
                book.key.where == where
                and not book.alone
                and pins_allow(pins, book.key.realm_origin)
                and not self._covered(book, scope)
            ):
                self._want(book, scope)

    async def token(self, key: BookKey, scope: str, fetch: Fetch) -> str | None:
        """A token for `scope` from the shared requests, or None: ask the realm alone
        (the realm refused the shared request). Errors of the shared request other
        than a refusal (the realm down, rate limited) are raised for every entry in it."""
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = _Book(key, fetch)
            for expected, pins in self._expected.get(key.where, {}).items():
                if pins_allow(pins, key.realm_origin):
                    book.pending[expected] = None
        if book.alone:
            return None
        value = self._fresh(book, scope)
        if value is not None:
            return value
        flight = book.flights.get(scope)
        if flight is None or flight.done():  # never asked, or its token ran out
            flight = self._want(book, scope)
        outcome = await asyncio.shield(flight)
        if outcome.refused:
            return None
        if outcome.error is not None:
            raise outcome.error
        return self._fresh(book, scope)

    def _fresh(self, book: _Book, scope: str) -> str | None:
        held = book.tokens.get(scope)
        if held is None:
            return None
        if held[1] <= self._clock():
            del book.tokens[scope]
            return None
        return held[0]

    def _covered(self, book: _Book, scope: str) -> bool:
        flight = book.flights.get(scope)
        return self._fresh(book, scope) is not None or (flight is not None and not flight.done())

    def _want(self, book: _Book, scope: str) -> asyncio.Future[_Outcome]:
        """Put `scope` in the next request for `book`; the future it settles."""
        if book.waiting is None:
            book.waiting = asyncio.get_running_loop().create_future()
        waiting = book.waiting
        book.pending[scope] = None
        book.flights[scope] = waiting
        if not book.running and not book.scheduled:
            # At the loop's next turn, not now: the entries woken together (by the shared
            # ping's answer, say) all add their scopes first and go in one request.
            book.scheduled = True
            asyncio.get_running_loop().call_soon(self._launch, book)
        return waiting

    def _launch(self, book: _Book) -> None:
        book.scheduled = False
        if self._closed or book.running or not book.pending:
            return
        scopes = list(book.pending)
        book.pending.clear()
        waiting = book.waiting or asyncio.get_running_loop().create_future()
        book.waiting = None
        for scope in scopes:
            book.flights[scope] = waiting
        book.running = True
        task = asyncio.create_task(self._fly(book, scopes, waiting), name="shared-token")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fly(self, book: _Book, scopes: list[str], waiting: asyncio.Future[_Outcome]) -> None:
        """Ask the realm for `scopes` (in requests of bounded size), settle `waiting`, then
        send whatever came up meanwhile."""
        outcome = _Outcome()
        try:
            parts = chunks(book.key.realm, book.key.service, scopes)
            answers = await asyncio.gather(
                *(book.fetch(part, self.stats) for part in parts), return_exceptions=True
            )
            self.token_requests += len(parts)
            for part, answer in zip(parts, answers, strict=True):
                if isinstance(answer, Token):
                    lifetime = min(answer.expires_in - 5.0, answer.expires_in * 0.9)
                    if lifetime > 0:
                        until = self._clock() + lifetime
                        for scope in part:
                            book.tokens[scope] = (answer.value, until)
                elif isinstance(answer, RegistryError) and answer.kind in _REFUSALS:
                    outcome.refused = True
                elif isinstance(answer, RegistryError):
                    outcome.error = answer
                elif isinstance(answer, BaseException):
                    outcome.error = RegistryError(
                        ErrorKind.PROTOCOL,
                        "The token service's answer could not be understood "
                        f"({type(answer).__name__}).",
                    )
            if outcome.refused:
                book.alone = True
        finally:
            book.running = False
            if not waiting.done():
                waiting.set_result(outcome)
            if book.pending and not book.alone:
                self._launch(book)
            elif book.alone and book.waiting is not None and not book.waiting.done():
                book.waiting.set_result(_Outcome(refused=True))
                book.waiting = None
                book.pending.clear()

    # -- end of the pass -------------------------------------------------------------------

    def close(self) -> None:
        """Drop everything (tokens included) and stop requests still in flight."""
        self._closed = True
        for task, _ in self._pings.values():
            if not task.done():
                task.cancel()
        for flight in list(self._tasks):
            flight.cancel()
        for book in self._books.values():
            if book.waiting is not None and not book.waiting.done():
                book.waiting.set_result(_Outcome(refused=True))
        self._pings.clear()
        self._books.clear()
        self._expected.clear()
