"""The repository types and what each can do.

The UI asks `type_info(t)` what to offer (create new, delete in IR, URL Check,
registered tool) instead of branching on the type itself, so a new type is one
entry here plus a driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry.config import RegistryConfig

DOCKER_HUB_REGISTRY_URL = "https://registry-1.docker.io"
GHCR_REGISTRY_URL = "https://ghcr.io"
GITLAB_REGISTRY_URL = "https://registry.gitlab.com"
QUAY_REGISTRY_URL = "https://quay.io"

# The hosted registries: each fills its public host and accepts a self-managed one.
_HOSTED: dict[str, tuple[str, str, bool, str]] = {
    # value: (label, default URL, can create, repository hint)
    "ghcr": ("GitHub Container Registry", GHCR_REGISTRY_URL, True, "owner/name"),
    "gitlab": ("GitLab Container Registry", GITLAB_REGISTRY_URL, True, "group/project[/image]"),
    "quay": ("Quay", QUAY_REGISTRY_URL, True, "namespace/name"),
}


class RegistryType(StrEnum):
    """Stored in the database: values never change."""

    HARBOR = "harbor"
    DOCKER_HUB = "dockerhub"
    IMAGE_REGISTRY = "registry"
    GHCR = "ghcr"
    GITLAB = "gitlab"
    QUAY = "quay"
    ECR = "ecr"
    ACR = "acr"
    GAR = "gar"


@dataclass(frozen=True, kw_only=True)
class TypeInfo:
    """What a repository type can do, for building forms and menus (the defaults: a
    registry at a URL the user types, found by a URL Check, that can delete)."""

    type: RegistryType
    label: str
    repository_hint: str
    can_create: bool = False
    can_delete_in_ir: bool = True
    has_url_check: bool = True
    needs_registered_tool: bool = False
    default_url: str | None = None
    # What Username and Password mean for this type, when not a plain user and password.
    credentials_hint: str = ""
    # A registered tool of this type (`/imagerepo tools`) may serve its entries: required
    # for Harbor (`needs_registered_tool`), optional for GitLab and Quay, whose tool's API
    # token creates ("Create new") and deletes in IR.
    takes_registered_tool: bool = False


def type_info(t: RegistryType | str, config: RegistryConfig | None = None) -> TypeInfo:
    """Describe a type; Docker Hub's `default_url` comes from `config` when given."""
    kind = RegistryType(t)
    if kind in _CLOUD:
        return _CLOUD[kind]
    if kind is RegistryType.HARBOR:
        return TypeInfo(
            type=kind,
            label="Harbor",
            can_create=True,
            has_url_check=False,
            needs_registered_tool=True,
            repository_hint="project/name",
            takes_registered_tool=True,
        )
    if kind is RegistryType.DOCKER_HUB:
        url = config.dockerhub_registry_url if config is not None else DOCKER_HUB_REGISTRY_URL
        return TypeInfo(
            type=kind,
            label="Docker Hub",
            can_create=True,  # POST /v2/namespaces/{ns}/repositories (Docker Hub API)
            has_url_check=False,
            default_url=url,
            repository_hint="namespace/name (nginx means library/nginx)",
        )
    if kind.value in _HOSTED:
        label, url, can_create, hint = _HOSTED[kind.value]
        return TypeInfo(
            type=kind,
            label=label,
            can_create=can_create,
            default_url=url,
            repository_hint=hint,
            takes_registered_tool=kind in TOOL_TYPES,
        )
    return TypeInfo(
        type=kind,
        label="Image Registry",
        repository_hint="path/name",
    )


def _cloud(
    kind: RegistryType, label: str, can_create: bool, hint: str, credentials: str
) -> TypeInfo:
    """Cloud registries: a URL the user types, credentials minted from a stored key."""
    return TypeInfo(
        type=kind,
        label=label,
        can_create=can_create,
        repository_hint=hint,
        credentials_hint=credentials,
    )


_CLOUD: dict[RegistryType, TypeInfo] = {
    RegistryType.ECR: _cloud(
        RegistryType.ECR,
        "Amazon ECR",
        True,
        "team/app",
        "The access key id (optionally a space and a role ARN to assume); the password is "
        "its secret access key.",
    ),
    RegistryType.ACR: _cloud(
        RegistryType.ACR,
        "Azure Container Registry",
        False,
        "team/app",
        "Admin user or token name with its password, or TENANT_ID/CLIENT_ID of a service "
        "principal with its client secret.",
    ),
    RegistryType.GAR: _cloud(
        RegistryType.GAR,
        "Google Artifact Registry",
        True,
        "project/repository/image",
        "_json_key (or leave empty); the password is the service account's JSON key.",
    ),
}

ALL_TYPES: tuple[RegistryType, ...] = (
    RegistryType.HARBOR,
    RegistryType.DOCKER_HUB,
    RegistryType.GHCR,
    RegistryType.GITLAB,
    RegistryType.QUAY,
    RegistryType.ECR,
    RegistryType.ACR,
    RegistryType.GAR,
    RegistryType.IMAGE_REGISTRY,
)

# The types a workspace admin can register as a tool (`registered_tools.tool_type`).
TOOL_TYPES: tuple[RegistryType, ...] = (
    RegistryType.HARBOR,
    RegistryType.GITLAB,
    RegistryType.QUAY,
)
