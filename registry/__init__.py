"""Registry clients: everything the product says about an image registry.

No Slack and no SQL in here.  `RegistryService` is the entry point; the
values it takes and returns are plain frozen dataclasses.
"""

from registry.config import RegistryConfig, config_from_env, parse_allowed_networks
from registry.errors import ErrorKind, RegistryError
from registry.kinds import (
    ALL_TYPES,
    LEGACY_TOOL_KIND,
    TOOL_TYPES,
    TYPES,
    RegistryType,
    ToolKind,
    TypeInfo,
    add_modal_type,
    is_tool_kind,
    tool_kind,
    tool_kinds_text,
    tool_type_of,
    type_info,
)
from registry.oci import MAX_REPOSITORY_NAME, check_repository_name, is_repository_name
from registry.results import (
    STEP_AUTHENTICATED,
    STEP_PULL,
    STEP_PUSH,
    STEP_REACHABLE,
    CheckStep,
    ConnectionTestResult,
    UrlCheckResult,
)
from registry.service import RegistryService
from registry.target import (
    Credentials,
    OriginPins,
    RegisteredTool,
    RepositoryTarget,
    TlsOptions,
    validate_ca_bundle,
)
from registry.urlguard import origin_of

__all__ = [
    "ALL_TYPES",
    "LEGACY_TOOL_KIND",
    "MAX_REPOSITORY_NAME",
    "STEP_AUTHENTICATED",
    "STEP_PULL",
    "STEP_PUSH",
    "STEP_REACHABLE",
    "TOOL_TYPES",
    "TYPES",
    "CheckStep",
    "ConnectionTestResult",
    "Credentials",
    "ErrorKind",
    "OriginPins",
    "RegisteredTool",
    "RegistryConfig",
    "RegistryError",
    "RegistryService",
    "RegistryType",
    "RepositoryTarget",
    "TlsOptions",
    "ToolKind",
    "TypeInfo",
    "UrlCheckResult",
    "add_modal_type",
    "check_repository_name",
    "config_from_env",
    "is_repository_name",
    "is_tool_kind",
    "origin_of",
    "parse_allowed_networks",
    "tool_kind",
    "tool_kinds_text",
    "tool_type_of",
    "type_info",
    "validate_ca_bundle",
]
