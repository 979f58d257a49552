"""Pooled connections: a keep-alive connection the server closed is never reused.

The transport answers httpcore's "is this idle socket readable?" itself
(`registry.transport._Stream`); a wrong answer would send the next request
down a closed connection and fail it with "closed the connection". (Over TLS
httpcore's anyio stream has read the server's close_notify before the check, so a
closed TLS connection is found only when it is used, with or without this
transport: not tested here.)
"""

from __future__ import annotations

import asyncio

from registry import RegistryConfig, RegistryService

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Docker-Distribution-Api-Version: registry/2.0\r\nContent-Length: 2\r\n\r\n{}"
)


class ClosingServer:
    """Answers one request per connection with keep-alive, then closes the connection
    itself (as a server whose idle timeout ran out); counts the connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()
        writer.close()
        self.closed.set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def test_a_connection_the_server_closed_is_not_reused(
    registry_config: RegistryConfig,
) -> None:
    server = ClosingServer()
    async with server as url, RegistryService(registry_config) as service:
        first = await service.url_check(url)
        await asyncio.wait_for(server.closed.wait(), 5)
        await asyncio.sleep(0.05)  # the close has reached the client's socket
        second = await service.url_check(url)
    assert first.ok, first.message
    assert second.ok, second.message
    assert server.connections == 2
