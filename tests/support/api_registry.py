"""What the hosted-registry stand-ins (Docker Hub, GitHub, GitLab, Quay) share: three
loopback servers that stand for one service, started and stopped together."""

from __future__ import annotations

from tests.support.registry_httpserver import ThreadedHttpServer
from tests.support.registry_server import RegistryServer
from tests.support.token_server import TokenServer


class RegistryBehindApi:
    """A token-auth registry, its token service and the provider's API; a subclass's
    `__init__` builds the three."""

    token_server: TokenServer
    api: ThreadedHttpServer
    registry: RegistryServer

    @property
    def registry_url(self) -> str:
        return self.registry.url

    @property
    def api_url(self) -> str:
        return self.api.url

    def start(self) -> None:
        # The token service and the API first: the registry asks them from its first request.
        self.token_server.start()
        self.api.start()
        self.registry.start()

    def stop(self) -> None:
        self.registry.stop()
        self.api.stop()
        self.token_server.stop()
