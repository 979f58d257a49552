"""Settings of the registry clients, and parsing them from the environment."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from registry.kinds import DOCKER_HUB_REGISTRY_URL

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DOCKER_HUB_API_URL = "https://hub.docker.com"
GITHUB_API_URL = "https://api.github.com"
GOOGLE_API_URL = "https://artifactregistry.googleapis.com"
AZURE_AUTHORITY = "https://login.microsoftonline.com"


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
    # Cloud registries (the `MintingDriver` modules): the region when a URL does not
    # name one, and provider endpoints for sovereign clouds and tests.  boto3 itself reads
    # AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_STS.
    aws_region: str | None = None
    google_api_url: str = GOOGLE_API_URL
    google_location: str | None = None  # when the URL is not LOCATION-docker.pkg.dev
    azure_authority: str = AZURE_AUTHORITY


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


def provider_url(name: str, value: str | None, default: str) -> str:
    """A provider endpoint from the environment: an http(s) URL without a trailing slash."""
    text = (value or "").strip() or default
    if not text.startswith(("http://", "https://")) or len(text) > 2048:
        raise ValueError(f"{name} must be an http:// or https:// URL, not {text[:80]!r}")
    return text.rstrip("/")


def aws_region(env: Mapping[str, str]) -> str | None:
    """AWS's standard region variables, AWS_REGION first (as the AWS SDKs read them)."""
    return (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip() or None


def config_from_env(env: Mapping[str, str]) -> RegistryConfig:
    """Build a config from `IMAGEREPO_ALLOWED_NETWORKS`, the Docker Hub and GitHub URL
    variables and the cloud providers' settings."""
    return RegistryConfig(
        aws_region=aws_region(env),
        google_api_url=provider_url(
            "IMAGEREPO_GOOGLE_API_URL", env.get("IMAGEREPO_GOOGLE_API_URL"), GOOGLE_API_URL
        ),
        google_location=(env.get("IMAGEREPO_GOOGLE_LOCATION") or "").strip() or None,
        azure_authority=provider_url(
            "IMAGEREPO_AZURE_AUTHORITY", env.get("IMAGEREPO_AZURE_AUTHORITY"), AZURE_AUTHORITY
        ),
        allowed_networks=parse_allowed_networks(env.get("IMAGEREPO_ALLOWED_NETWORKS", "")),
        dockerhub_registry_url=env.get("IMAGEREPO_DOCKERHUB_REGISTRY_URL")
        or DOCKER_HUB_REGISTRY_URL,
        dockerhub_api_url=env.get("IMAGEREPO_DOCKERHUB_API_URL") or DOCKER_HUB_API_URL,
        github_api_url=env.get("IMAGEREPO_GITHUB_API_URL") or GITHUB_API_URL,
    )
