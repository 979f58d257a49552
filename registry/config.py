"""Settings of the registry clients, and parsing them from the environment."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from registry.kinds import DOCKER_HUB_REGISTRY_URL

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DOCKER_HUB_API_URL = "https://hub.docker.com"
GITHUB_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class RegistryConfig:
    """How the service reaches registries.

    `allowed_networks` lists the internal networks (loopback, private, ...)
    that registry URLs may resolve to; everything internal is refused otherwise.
    `operation_timeout` bounds a whole connection test, however many requests it makes.
    """

    allowed_networks: tuple[IPNetwork, ...] = ()
    dockerhub_registry_url: str = DOCKER_HUB_REGISTRY_URL
    dockerhub_api_url: str = DOCKER_HUB_API_URL
    github_api_url: str = GITHUB_API_URL
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    user_agent: str = "imagerepo-bot/0.1"
    operation_timeout: float = 30.0
    max_redirects: int = 5


def parse_allowed_networks(text: str) -> tuple[IPNetwork, ...]:
    """Parse `IMAGEREPO_ALLOWED_NETWORKS`: CIDRs or addresses, separated by commas or spaces.

    Raises ValueError naming the bad entry, so a typo stops the app at start-up
    instead of silently refusing (or allowing) a network.
    """
    networks: list[IPNetwork] = []
    for raw in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(raw, strict=True))
        except ValueError:
            try:
                loose = ipaddress.ip_network(raw, strict=False)
            except ValueError:
                raise ValueError(
                    f"IMAGEREPO_ALLOWED_NETWORKS: {raw!r} is not an IP network "
                    "(expected CIDRs like 10.0.0.0/8, separated by commas)"
                ) from None
            raise ValueError(
                f"IMAGEREPO_ALLOWED_NETWORKS: {raw!r} has host bits set; did you mean {loose}?"
            ) from None
    return tuple(networks)


def config_from_env(env: Mapping[str, str]) -> RegistryConfig:
    """A config from `IMAGEREPO_ALLOWED_NETWORKS` and the Docker Hub and GitHub URL variables."""
    return RegistryConfig(
        allowed_networks=parse_allowed_networks(env.get("IMAGEREPO_ALLOWED_NETWORKS", "")),
        dockerhub_registry_url=env.get("IMAGEREPO_DOCKERHUB_REGISTRY_URL")
        or DOCKER_HUB_REGISTRY_URL,
        dockerhub_api_url=env.get("IMAGEREPO_DOCKERHUB_API_URL") or DOCKER_HUB_API_URL,
        github_api_url=env.get("IMAGEREPO_GITHUB_API_URL") or GITHUB_API_URL,
    )
