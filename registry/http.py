"""The single pooled HTTP client: guarded connections, manual redirects, errors by kind.

Every request of the package goes through `HttpClient.request`, which

- applies the outbound rule (`registry/outbound.py`) of the operation it
  serves (`for_operation`): before each hop leaves, a credential bound to other
  origins (a saved entry's pins, a tool's URL) refuses the request;
- follows redirects itself, hop by hop (each hop is a new guarded request) and
  drops every credential-bearing header (`Authorization`, `PRIVATE-TOKEN`,
  cookies, headers a driver marks secret, any value holding a known secret)
  whenever the origin changes, so credentials never reach a host that a
  registry redirects to; a request whose answer decides where credentials go
  (`keep_origin`), or whose body holds a secret, is not redirected to another
  origin at all;
- follows a redirect into an IMAGEREPO_ALLOWED_NETWORKS network only when the
  first URL's host is in that same network (`networks`), so a public registry
  cannot point the bot at internal services;
- never keeps cookies (Harbor turns on CSRF checks when a session cookie comes
  back, and one shared cookie jar would mix users);
- asks for uncompressed answers and reads at most a few MiB of any body,
  counting decompressed bytes while reading (a gzip bomb stops at the cap);
- counts round trips for the caller;
- turns transport failures into `RegistryError`s naming the service involved.
"""

from __future__ import annotations

import copy
import http.cookiejar
import json
import socket
import ssl
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.request import Request

import httpx

from registry.config import IPNetwork, RegistryConfig
from registry.errors import ErrorKind, RegistryError
from registry.outbound import OutboundRule, is_secret_header, strip_secret_headers
from registry.target import TlsOptions
from registry.transport import NETWORKS_EXTENSION, TLS_EXTENSION, GuardedTransport
from registry.urlguard import UrlGuard, origin_of

_REDIRECTS = {301, 302, 303, 307, 308}
MAX_BODY = 4 * 1024 * 1024


class _NoCookies(http.cookiejar.CookiePolicy):
    """Refuse every cookie: no server session may ride along on later requests."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Request) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Request) -> bool:
        return False

    def path_return_ok(self, path: str, request: Request) -> bool:
        return False


@dataclass
class Stats:
    """Round trips made by one operation (each redirect hop counts)."""

    round_trips: int = 0


@dataclass(frozen=True)
class HttpResponse:
    """A fully read (capped) response."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    truncated: bool = False

    def json(self) -> Any:
        """The decoded JSON body; ValueError if it is not JSON (or cut at the size limit,
        or nested too deeply to decode)."""
        if self.truncated:
            raise ValueError("the body was cut at the size limit")
        try:
            return json.loads(self.body.decode("utf-8", errors="replace"))
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()


def confirms_deletion(response: HttpResponse, statuses: tuple[int, ...] = (200, 202, 204)) -> bool:
    """Whether an answer to a DELETE says it was done: one of `statuses`, and a body that is
    empty or JSON (a login page or a proxy's HTML page with 200 confirms nothing)."""
    if response.status not in statuses or response.truncated:
        return False
    if not response.body.strip():
        return True
    try:
        response.json()
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Service:
    """Who we are talking to, for messages: e.g. `the token service at http://.../token`."""

    phrase: str

    @property
    def capitalised(self) -> str:
        return self.phrase[:1].upper() + self.phrase[1:]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _host_port(url: httpx.URL) -> str:
    host = url.host
    if ":" in host:
        host = f"[{host}]"
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{host}:{port}"


def transport_error(
    exc: Exception, url: httpx.URL, service: Service, config: RegistryConfig
) -> RegistryError:
    """Classify a failure below HTTP (DNS, TCP, TLS, timeouts) for `service`."""
    where = _host_port(url)
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            detail = (item.verify_message or str(item.reason or "")).strip()
            lowered = detail.lower()
            if "mismatch" in lowered:
                reason = f"its certificate is not valid for {url.host} ({detail})"
            elif "expired" in lowered:
                reason = f"its certificate has expired ({detail})"
            else:
                reason = f"its certificate is not trusted ({detail})"
            return RegistryError(
                ErrorKind.TLS_ERROR,
                f"TLS error with {service.phrase}: {reason}. Give the registry's CA bundle (PEM) "
                "so the certificate can be verified; turn verification off only if you must.",
            )
    for item in chain:
        if isinstance(item, ssl.SSLError):
            reason = str(item.reason or item.__class__.__name__)
            if "WRONG_VERSION_NUMBER" in reason.upper() or "RECORD_LAYER" in reason.upper():
                return RegistryError(
                    ErrorKind.TLS_ERROR,
                    f"TLS error with {service.phrase}: {where} does not speak TLS "
                    "(try http:// instead of https://).",
                )
            return RegistryError(
                ErrorKind.TLS_ERROR, f"TLS handshake with {service.phrase} failed ({reason})."
            )
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return RegistryError(
            ErrorKind.TIMEOUT,
            f"Timed out connecting to {service.phrase}: no answer from {where} within "
            f"{config.connect_timeout:g} s.",
        )
    if isinstance(exc, httpx.TimeoutException):
        return RegistryError(
            ErrorKind.TIMEOUT,
            f"{service.capitalised} accepted the connection but did not answer within "
            f"{config.read_timeout:g} s.",
        )
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return RegistryError(
                ErrorKind.CONNECTION_REFUSED,
                f"Connection refused by {service.phrase}: nothing is listening on {where}.",
            )
        if isinstance(item, socket.gaierror):
            return RegistryError(
                ErrorKind.DNS_FAILURE, f"DNS lookup failed for {url.host} ({service.phrase})."
            )
    if isinstance(exc, httpx.ConnectError):
        cause = next((c for c in chain if isinstance(c, OSError)), None)
        detail = cause.strerror if cause is not None and cause.strerror else "connection failed"
        return RegistryError(
            ErrorKind.NETWORK_ERROR, f"Could not connect to {service.phrase} ({where}): {detail}."
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return RegistryError(
            ErrorKind.NETWORK_ERROR,
            f"{service.capitalised} closed the connection before answering ({where}).",
        )
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return RegistryError(ErrorKind.INVALID_URL, f"Invalid URL for {service.phrase}.")
    return RegistryError(
        ErrorKind.NETWORK_ERROR,
        f"Network error with {service.phrase} ({where}): {exc.__class__.__name__}.",
    )


class _BoundedBody:
    """Collects a body up to `limit` decoded bytes, decompressing gzip/deflate itself.

    httpx would inflate a whole network chunk at once (64 KiB of gzip can hold
    64 MiB of zeros), so raw bytes are read and inflated with `max_length`.
    """

    def __init__(self, encoding: str, limit: int, service: Service) -> None:
        self.limit = limit
        self.size = 0
        self.raw = 0
        self.truncated = False
        self.chunks: list[bytes] = []
        codings = [c.strip() for c in encoding.lower().split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        self._inflate: Any = None
        if codings in (["gzip"], ["x-gzip"], ["deflate"]):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header
        elif codings:
            raise RegistryError(
                ErrorKind.PROTOCOL,
                f"{service.capitalised} answered with Content-Encoding {codings[0][:40]!r}, "
                "which was not asked for.",
            )
        self._service = service

    def feed(self, data: bytes) -> bool:
        """Take one raw chunk; False once the limit is reached (stop reading)."""
        self.raw += len(data)
        if self._inflate is None:
            self._keep(data)
        else:
            try:
                pending = data
                while pending and not self.truncated:
                    self._keep(self._inflate.decompress(pending, self.limit + 1 - self.size))
                    pending = self._inflate.unconsumed_tail
            except zlib.error:
                raise RegistryError(
                    ErrorKind.PROTOCOL, f"{self._service.capitalised} sent a corrupt gzip body."
                ) from None
        if self.raw > self.limit:
            self.truncated = True
        return not self.truncated

    def _keep(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        self.chunks.append(data)
        self.size += len(data)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class HttpClient:
    """One pooled `httpx.AsyncClient` with explicit timeouts and the URL guard below it."""

    def __init__(self, config: RegistryConfig) -> None:
        self.config = config
        self.guard = UrlGuard(config.allowed_networks)
        self._transport = GuardedTransport(self.guard)
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.read_timeout,
                pool=config.connect_timeout,
            ),
            headers={"User-Agent": config.user_agent, "Accept-Encoding": "identity"},
            cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
            follow_redirects=False,
            trust_env=False,
        )
        self.rule: OutboundRule | None = None

    def for_operation(self, rule: OutboundRule) -> HttpClient:
        """This client (the same pool) for one operation: every request it sends passes
        `rule` first, so no driver can forget the outbound rule."""
        bound = copy.copy(self)
        bound.rule = rule
        return bound

    async def aclose(self) -> None:
        await self._client.aclose()

    async def networks_of(self, url: httpx.URL) -> tuple[IPNetwork, ...]:
        """The allowed internal networks `url`'s host resolves into (see `UrlGuard.networks_of`)."""
        port = url.port or (443 if url.scheme == "https" else 80)
        return await self.guard.networks_of(url.host, port, self.config.connect_timeout)

    async def request(
        self,
        method: str,
        url: str,
        *,
        tls: TlsOptions,
        stats: Stats,
        service: Service,
        authorization: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        content: bytes | None = None,
        json_body: Any = None,
        max_body: int = MAX_BODY,
        keep_origin: bool = False,
        networks: tuple[IPNetwork, ...] | None = None,
        secret_headers: Iterable[str] = (),
    ) -> HttpResponse:
        """Send one request, following redirects hop by hop; raise RegistryError on failure.

        `keep_origin`: the answer decides where credentials go (a `/v2/` ping with
        credentials) or the body carries a secret, so a redirect to another origin
        is refused instead of followed.  `networks`: the internal networks every
        hop may reach (a URL a server handed us: a realm, an upload Location);
        None means the first hop may reach any allowed network and redirects
        only the allowed networks the first host is in.  `secret_headers`: more
        header names (besides `outbound.SECRET_HEADERS`) that carry a credential.
        """
        current = httpx.URL(url)
        if params:
            current = current.copy_merge_params(list(params))
        origin = (current.scheme, current.host, current.port)
        body = content
        if json_body is not None:
            body = json.dumps(json_body).encode()
        extra: dict[str, str] = dict(headers or {})
        if json_body is not None:
            extra.setdefault("Content-Type", "application/json")
        auth = authorization
        hop_networks = networks
        marked = tuple(secret_headers)
        rule = self.rule
        for _hop in range(self.config.max_redirects + 1):
            request_headers = dict(extra)
            if auth is not None:
                request_headers["Authorization"] = auth
            if rule is not None:
                rule.check(current, request_headers, body, service.phrase)
            extensions: dict[str, Any] = {TLS_EXTENSION: tls}
            if hop_networks is not None:
                extensions[NETWORKS_EXTENSION] = hop_networks
            request = self._client.build_request(
                method,
                current,
                headers=request_headers,
                content=body,
                extensions=extensions,
            )
            stats.round_trips += 1
            response = await self._send(request, service, max_body)
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or not location:
                return response
            try:
                target = current.join(location)
            except httpx.InvalidURL:
                raise RegistryError(
                    ErrorKind.REGISTRY_ERROR,
                    f"{service.capitalised} redirected to an invalid URL.",
                ) from None
            if target.scheme not in ("http", "https"):
                raise RegistryError(
                    ErrorKind.REFUSED_TARGET,
                    f"{service.capitalised} redirected to a {target.scheme}: URL; "
                    "only http(s) is followed.",
                )
            if (target.scheme, target.host, target.port) != origin:
                if keep_origin:
                    raise RegistryError(
                        ErrorKind.REFUSED_TARGET,
                        f"{service.capitalised} redirected from {origin_of(current)} to "
                        f"{origin_of(target)}, another origin; the password is never sent "
                        "across origins, so the redirect was not followed. If "
                        f"{origin_of(target)} is the registry, use it as the URL.",
                    )
                carried = auth is not None or any(
                    is_secret_header(name, value, marked, rule) for name, value in extra.items()
                )
                if (rule is not None and rule.holds_secret(body)) or (
                    carried and method not in ("GET", "HEAD")
                ):
                    # A change made with credentials cannot be done by a host they are not
                    # sent to: its answer (a 2xx "deleted") would speak for nothing.
                    raise RegistryError(
                        ErrorKind.REFUSED_TARGET,
                        f"{service.capitalised} redirected from {origin_of(current)} to "
                        f"{origin_of(target)}, another origin; a {method} with credentials is "
                        "never redirected across origins, so it was not followed.",
                    )
                auth = None
                extra = strip_secret_headers(extra, marked, rule)
            if hop_networks is None:
                hop_networks = await self.networks_of(httpx.URL(url))
            if response.status == 303 or (
                response.status in (301, 302) and method not in ("GET", "HEAD")
            ):
                method, body = "GET", None
                extra.pop("Content-Type", None)
            current = target
        raise RegistryError(
            ErrorKind.REGISTRY_ERROR,
            f"{service.capitalised} redirected more than {self.config.max_redirects} times.",
        )

    async def _send(self, request: httpx.Request, service: Service, max_body: int) -> HttpResponse:
        try:
            # Straight to the transport: the client's send would only add what is never
            # used here (auth flows, hooks, following redirects, cookies, which the jar
            # refuses anyway), ~40 us per request of a re-check pass.
            response = await self._transport.handle_async_request(request)
            response.request = request
        except RegistryError as exc:
            raise RegistryError(exc.kind, f"{exc.message} ({service.phrase})") from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, request.url, service, self.config) from None
        try:
            encoding = response.headers.get("content-encoding", "")
            if request.method == "HEAD":
                encoding = ""  # no body to decode
            collected = _BoundedBody(encoding, max_body, service)
            if request.method != "HEAD":
                async for chunk in response.aiter_raw():
                    if not collected.feed(chunk):
                        break
        except httpx.HTTPError as exc:
            raise transport_error(exc, request.url, service, self.config) from None
        finally:
            await response.aclose()
        return HttpResponse(
            status=response.status_code,
            headers=response.headers,
            body=collected.body,
            url=str(request.url),
            truncated=collected.truncated,
        )
