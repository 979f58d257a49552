"""An httpx transport that pins every connection to an address the URL guard approved.

httpx resolves host names inside the connection pool, after any check we could
make beforehand, which leaves room for DNS rebinding.  This transport gives
httpcore a network backend whose `connect_tcp` asks `UrlGuard.resolve` for the
allowed addresses and connects to one of them, while TLS still verifies (and
sends SNI for) the original host name.  One httpx client sits on top; TLS
options differ per registry, so the transport keeps one connection pool per TLS
configuration (chosen by a request extension) behind that single client.
"""

from __future__ import annotations

import hashlib
import select
import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import certifi
import httpcore
import httpx

from registry.errors import ErrorKind, RegistryError
from registry.target import TlsOptions
from registry.urlguard import UrlGuard

TLS_EXTENSION = "imagerepo.tls"
NETWORKS_EXTENSION = "imagerepo.networks"
_MAX_POOLS = 32

# httpcore's errors and their httpx namesakes, most specific first (first match wins).
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = tuple(
    (getattr(httpcore, name), getattr(httpx, name))
    for name in (
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ConnectError",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        "LocalProtocolError",
        "UnsupportedProtocol",
        "ProtocolError",
        "NetworkError",
        "TimeoutException",
    )
)

_CORE_ERRORS = tuple(core for core, _ in _EXCEPTIONS)


@contextmanager
def _map_exceptions(request: httpx.Request) -> Iterator[None]:
    """Turn httpcore errors into httpx ones, keeping the original as the cause."""
    try:
        yield
    except _CORE_ERRORS as exc:
        for core_type, httpx_type in _EXCEPTIONS:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc), request=request) from exc
        raise


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's anyio stream, answering `is_readable` from a socket looked up once.

    Each time httpcore's pool hands out a request it asks every idle connection
    whether its socket is readable (the server closed it); anyio answers by
    building a dict of all its attributes and calling getpeername first, ~6 us
    a time and ~30 times per request at the re-checks' pool size (bench/README.md).
    The check itself, a zero-timeout poll of the socket, is the same.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        if info == "socket":
            return self._socket
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data or the server's close), as httpcore
    decides it: a socket that is gone counts as readable, so it is not reused."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return bool(poll.poll(0))


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses that the guard returned for the requested host."""

    def __init__(self, guard: UrlGuard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.resolve(host, port, timeout)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return _Stream(stream)
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for registries")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def build_ssl_context(tls: TlsOptions) -> ssl.SSLContext:
    """The SSL context for a TLS configuration; a bad CA bundle is a TLS_ERROR."""
    context = ssl.create_default_context(cafile=certifi.where())
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if tls.ca_bundle_pem:
        try:
            context.load_verify_locations(cadata=tls.ca_bundle_pem)
        except (ssl.SSLError, ValueError):
            raise RegistryError(
                ErrorKind.TLS_ERROR,
                "The CA bundle is not valid: paste the registry's CA certificate(s) in PEM form "
                "(-----BEGIN CERTIFICATE-----).",
            ) from None
    return context


def _tls_key(tls: TlsOptions) -> tuple[bool, str]:
    if not tls.verify:
        return (False, "")
    pem = tls.ca_bundle_pem or ""
    return (True, hashlib.sha256(pem.encode()).hexdigest() if pem else "")


class _Pool:
    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool
        self.in_flight = 0


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, request: httpx.Request, owner: _Pool) -> None:
        self._stream = stream
        self._request = request
        self._owner: _Pool | None = owner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _map_exceptions(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        try:
            if hasattr(self._stream, "aclose"):
                with _map_exceptions(self._request):
                    await self._stream.aclose()
        finally:
            if self._owner is not None:
                self._owner.in_flight -= 1
                self._owner = None


class GuardedTransport(httpx.AsyncBaseTransport):
    """Routes each request to the pool of its TLS options; every connection is guarded.

    The TLS options of a request travel in `request.extensions[TLS_EXTENSION]`.
    A request may also carry `NETWORKS_EXTENSION`: the allowed internal networks
    it may reach (a subset of the guard's).  Such requests get pools of their own
    whose connections were made under that narrower guard, so a pooled
    connection to an internal address never serves a request that may not reach it.
    """

    def __init__(
        self,
        guard: UrlGuard,
        *,
        max_connections: int = 100,
        max_keepalive: int = 20,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self._guard = guard
        self._backends: dict[tuple[str, ...] | None, _PinnedBackend] = {None: _PinnedBackend(guard)}
        self._limits = (max_connections, max_keepalive, keepalive_expiry)
        self._pools: OrderedDict[tuple[tuple[str, ...] | None, bool, str], _Pool] = OrderedDict()

    def _networks_key(self, networks: object) -> tuple[str, ...] | None:
        if not isinstance(networks, tuple):
            return None
        subset = self._guard.restricted(networks)
        if subset.allowed_networks == self._guard.allowed_networks:
            return None
        key = tuple(str(net) for net in subset.allowed_networks)
        if key not in self._backends:
            self._backends[key] = _PinnedBackend(subset)
        return key

    def _new_pool(
        self, ssl_context: ssl.SSLContext | None, networks: tuple[str, ...] | None
    ) -> _Pool:
        max_connections, max_keepalive, expiry = self._limits
        return _Pool(
            httpcore.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive,
                keepalive_expiry=expiry,
                http1=True,
                http2=False,
                network_backend=self._backends[networks],
            )
        )

    async def _pool_for(
        self, scheme: str, tls: TlsOptions, networks: tuple[str, ...] | None
    ) -> _Pool:
        plain = scheme == "http"
        key = (networks, *((False, "plain") if plain else _tls_key(tls)))
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        pool = self._new_pool(None if plain else build_ssl_context(tls), networks)
        self._pools[key] = pool
        if len(self._pools) > _MAX_POOLS:
            for old_key, old in list(self._pools.items()):
                if old.in_flight == 0 and old is not pool:
                    del self._pools[old_key]
                    await old.pool.aclose()
                    break
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme not in ("http", "https"):
            raise RegistryError(
                ErrorKind.INVALID_URL, f"Only http:// and https:// URLs are used (got {scheme}://)."
            )
        tls = request.extensions.get(TLS_EXTENSION)
        if not isinstance(tls, TlsOptions):
            tls = TlsOptions()
        networks = self._networks_key(request.extensions.get(NETWORKS_EXTENSION))
        owner = await self._pool_for(scheme, tls, networks)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        owner.in_flight += 1
        try:
            with _map_exceptions(request):
                response = await owner.pool.handle_async_request(core_request)
        except BaseException:
            owner.in_flight -= 1
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, request, owner),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.pool.aclose()
