"""The repository types and the kinds of registered tool: ONE table, `TYPES`.

Every other place derives from it: the add modal's `Repository type` options, fields and
hints, the tool form's `Tool type` options and hints, the form rules of a repository name,
`imagerepo-bot check --type`, the help text, the README's type table (a test compares
them) and `RegistryService`'s choice of driver and tool check.  Adding a type is a driver
module plus a row here (see docs/architecture.md, "Adding a registry type").

The texts a person reads are English msgids marked with `N_` (babel.cfg extracts this
module into the Korean catalog); the handlers translate them where they show them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry.config import RegistryConfig

DOCKER_HUB_REGISTRY_URL = "https://registry-1.docker.io"
GHCR_REGISTRY_URL = "https://ghcr.io"
GITLAB_REGISTRY_URL = "https://registry.gitlab.com"
QUAY_REGISTRY_URL = "https://quay.io"


def N_(text: str) -> str:
    """Mark a text for the catalog (the registry layer imports nothing of the handlers)."""
    return text


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
class ToolKind:
    """A type that a workspace admin can register as a tool (`/imagerepo tools`): how the
    tool form asks for it, how its account is held, and what the add modal offers with it.
    Texts are `N_` msgids."""

    label: str  # "Harbor", "GitLab": how forms and messages name the tool's kind
    url_placeholder: str
    url_hint: str
    namespace: str  # what a grant's namespace names in this kind ("project", "organization")
    # The add modal's `Registered tool` hint where the tool is optional: what its API token
    # does there (Create new, delete in IR).
    tool_hint: str = ""
    # Where the add modal requires a tool of this kind (`TypeInfo.needs_registered_tool`):
    # its select's placeholder, and what the modal says while none is registered.
    choose: str = ""
    none_registered: str = ""
    # The add modal's picker of the tool's existing namespaces (its label), offered under
    # "Use existing"; its driver lists them (`Driver.namespaces`). None: no picker.
    namespace_picker: str | None = None
    # The tool's URL is also its registry's (Harbor, Quay): entries take it as their
    # registry URL, and follow it when it moves. False (GitLab): it is the API host only.
    serves_registry: bool = True
    # None: an account and its password; else the fixed account name stored with an API
    # token that is the whole credential (Quay's own name for "the password is a token").
    token_account: str | None = None
    token_hint: str = ""
    # The class (`module:Class`) that tests a tool of this kind (`RegistryService.test_tool`).
    check: str

    @property
    def token_only(self) -> bool:
        return self.token_account is not None


@dataclass(frozen=True, kw_only=True)
class TypeInfo:
    """What a repository type can do, for building forms and menus (the defaults: a
    registry at a URL the user types, found by a URL Check, that can delete). Texts are
    `N_` msgids."""

    type: RegistryType
    label: str
    repository_hint: str
    # The driver class, `module:Class` (imported by `RegistryService`, which the driver
    # modules cannot be imported by: they read this table).
    driver: str
    can_create: bool = False
    can_delete_in_ir: bool = True
    has_url_check: bool = True
    needs_registered_tool: bool = False
    default_url: str | None = None
    # `default_url` is IMAGEREPO_DOCKERHUB_REGISTRY_URL when set (`type_info(t, config)`),
    # and the form's URL is always that one.
    configured_url: bool = False
    # The Repository field's hint under "Create new", when the type says more than
    # `repository_hint` (what is created, and when).
    new_repository_hint: str = ""
    # The Repository field's hint otherwise, when the type says more than `repository_hint`.
    existing_repository_hint: str = ""
    # A repository name here has at least this many path components; `name_rule` says so.
    min_name_parts: int = 1
    name_rule: str = ""
    # A bare name (`nginx`) is this namespace's (`library/nginx`: Docker Hub's official
    # images); "": a bare name is taken as typed.
    bare_name_namespace: str = ""
    # What Username and Password mean for this type, when not a plain user and password.
    credentials_hint: str = ""
    # The Username a password alone implies: the provider's name for "the password is a
    # key" (Google's `_json_key`); None: a password needs a user name.
    key_username: str | None = None
    # A registered tool of this type may serve its entries: required for Harbor
    # (`needs_registered_tool`), optional for the others, whose tool's API token creates
    # ("Create new") and deletes in IR.
    tool: ToolKind | None = None

    @property
    def takes_registered_tool(self) -> bool:
        return self.tool is not None


TYPES: tuple[TypeInfo, ...] = (
    TypeInfo(
        type=RegistryType.HARBOR,
        label="Harbor",
        driver="registry.harbor:HarborDriver",
        can_create=True,
        has_url_check=False,
        needs_registered_tool=True,
        repository_hint="project/name",
        new_repository_hint=N_(
            "PROJECT/NAME: the Harbor project is created; NAME appears on the first push."
        ),
        existing_repository_hint=N_(
            "NAME inside the chosen Harbor project, or PROJECT/NAME; lowercase, no tag or digest"
        ),
        min_name_parts=2,
        name_rule=N_("A Harbor repository is PROJECT/NAME, e.g. payments/api."),
        tool=ToolKind(
            label="Harbor",
            url_placeholder="https://harbor.example.com",
            url_hint=N_("The Harbor instance (its registry and API share this URL)."),
            namespace=N_("project"),
            choose=N_("Choose a Harbor instance"),
            none_registered=N_(
                ":warning: No Harbor instance is registered yet. A workspace admin can "
                "register one with `/imagerepo tools`; until then choose Image Registry."
            ),
            namespace_picker=N_("Harbor project"),
            check="registry.harbor:ToolCheck",
        ),
    ),
    TypeInfo(
        type=RegistryType.DOCKER_HUB,
        label="Docker Hub",
        driver="registry.dockerhub:DockerHubDriver",
        can_create=True,  # POST /v2/namespaces/{ns}/repositories (Docker Hub API)
        has_url_check=False,
        default_url=DOCKER_HUB_REGISTRY_URL,
        configured_url=True,
        repository_hint="namespace/name (nginx means library/nginx)",
        bare_name_namespace="library",
    ),
    TypeInfo(
        type=RegistryType.GHCR,
        label="GitHub Container Registry",
        driver="registry.ghcr:GhcrDriver",
        can_create=True,
        default_url=GHCR_REGISTRY_URL,
        repository_hint="owner/name",
    ),
    TypeInfo(
        type=RegistryType.GITLAB,
        label="GitLab Container Registry",
        driver="registry.gitlab:GitLabDriver",
        can_create=True,
        default_url=GITLAB_REGISTRY_URL,
        repository_hint="group/project[/image]",
        new_repository_hint=N_(
            "GROUP/PROJECT[/IMAGE] of an existing GitLab project: the image appears on the "
            "first push."
        ),
        tool=ToolKind(
            label="GitLab",
            url_placeholder="https://gitlab.com",
            url_hint=N_(
                "The GitLab host whose API is /api/v4 (gitlab.com or your own), not the "
                "registry host."
            ),
            namespace=N_("group or project"),
            tool_hint=N_(
                "Its API token checks the project and deletes in IR only in namespaces granted "
                "to this project; elsewhere only your account below is used."
            ),
            serves_registry=False,
            token_account="api-token",
            token_hint=N_(
                "A personal or group access token with the api scope, of a Maintainer or "
                "Owner of the projects: it checks projects for Create new and deletes in IR."
            ),
            check="registry.gitlab:GitLabToolCheck",
        ),
    ),
    TypeInfo(
        type=RegistryType.QUAY,
        label="Quay",
        driver="registry.quay:QuayDriver",
        can_create=True,
        default_url=QUAY_REGISTRY_URL,
        repository_hint="namespace/name",
        new_repository_hint=N_("NAMESPACE/NAME: created in Quay (private) when you save."),
        tool=ToolKind(
            label="Quay",
            url_placeholder="https://quay.io",
            url_hint=N_("quay.io or your Red Hat Quay: its API and registry share the host."),
            namespace=N_("organization"),
            tool_hint=N_(
                "Its API token creates it and deletes in IR only in namespaces granted to this "
                "project; elsewhere only your account below is used."
            ),
            token_account="$oauthtoken",
            token_hint=N_(
                "An organisation admin's OAuth application token (robot accounts cannot use "
                "Quay's API): it creates repositories and deletes in IR."
            ),
            check="registry.quay:QuayToolCheck",
        ),
    ),
    # Cloud registries: a URL the user types, credentials minted from a stored key.
    TypeInfo(
        type=RegistryType.ECR,
        label="Amazon ECR",
        driver="registry.ecr:EcrDriver",
        can_create=True,
        repository_hint="team/app",
        credentials_hint=(
            "The access key id (optionally a space and a role ARN to assume); the password "
            "is its secret access key."
        ),
    ),
    TypeInfo(
        type=RegistryType.ACR,
        label="Azure Container Registry",
        driver="registry.acr:AcrDriver",
        can_create=False,
        repository_hint="team/app",
        credentials_hint=(
            "Admin user or token name with its password, or TENANT_ID/CLIENT_ID of a service "
            "principal with its client secret."
        ),
    ),
    TypeInfo(
        type=RegistryType.GAR,
        label="Google Artifact Registry",
        driver="registry.gar:GarDriver",
        can_create=True,
        repository_hint="project/repository/image",
        min_name_parts=3,
        name_rule=N_(
            "A Google Artifact Registry image is PROJECT/REPOSITORY/IMAGE, e.g. acme/docker/api."
        ),
        credentials_hint=(
            "_json_key (or leave empty); the password is the service account's JSON key."
        ),
        key_username="_json_key",
    ),
    TypeInfo(
        type=RegistryType.IMAGE_REGISTRY,
        label="Image Registry",
        driver="registry.drivers:ImageRegistryDriver",
        repository_hint="path/name",
    ),
)

_BY_TYPE: dict[RegistryType, TypeInfo] = {info.type: info for info in TYPES}

# The order the add modal and `check --type` offer them in.
ALL_TYPES: tuple[RegistryType, ...] = tuple(info.type for info in TYPES)

# The types a workspace admin can register as a tool (`registered_tools.tool_type`).
TOOL_TYPES: tuple[RegistryType, ...] = tuple(info.type for info in TYPES if info.tool)

# The kind of a tool whose row or signed modal says none: every registered tool was a
# Harbor instance before tools had kinds (storage's column default says the same,
# `storage.models.LEGACY_TOOL_TYPE`; a test compares them).
LEGACY_TOOL_KIND = RegistryType.HARBOR


def tool_type_of(stored: str | None) -> RegistryType:
    """The kind of a stored tool (`registered_tools.tool_type`, a modal's metadata)."""
    return RegistryType(stored or LEGACY_TOOL_KIND)


def add_modal_type(has_tools: bool) -> RegistryType:
    """The type the add modal opens on: the first that needs a registered tool when the
    workspace has tools, else a plain Image Registry."""
    needing = [info.type for info in TYPES if info.needs_registered_tool]
    return needing[0] if has_tools and needing else RegistryType.IMAGE_REGISTRY


def type_info(t: RegistryType | str, config: RegistryConfig | None = None) -> TypeInfo:
    """Describe a type; Docker Hub's `default_url` comes from `config` when given."""
    info = _BY_TYPE[RegistryType(t)]
    if config is not None and info.configured_url:
        return replace(info, default_url=config.dockerhub_registry_url)
    return info


def tool_kind(kind: RegistryType | str) -> ToolKind:
    """The tool kind of a registered tool's type (ValueError: not a tool type)."""
    tool = _BY_TYPE[RegistryType(kind)].tool
    if tool is None:
        raise ValueError(f"{kind} is not a kind of registered tool")
    return tool


def is_tool_kind(kind: object) -> bool:
    """Whether `kind` (e.g. a value from a form or metadata) names a kind of tool."""
    return kind in {t.value for t in TOOL_TYPES}


def tool_kinds_text(conjunction: str = "or") -> str:
    """ "Harbor, GitLab or Quay": the kinds of tool, for sentences."""
    labels = [tool_kind(t).label for t in TOOL_TYPES]
    if len(labels) < 2:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} {conjunction} {labels[-1]}"
