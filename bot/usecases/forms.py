"""The add-repository form, its validation and normalisation.

Validation returns every problem at once, keyed by field, so a modal can show
each message under its own input (Slack's `response_action: errors`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from urllib.parse import urlsplit

from cryptography import x509

from bot.usecases.errors import N_, InvalidInput
from registry import MAX_REPOSITORY_NAME, RegistryType, is_repository_name, type_info
from storage.enums import RepositoryAccess

MAX_REPOSITORY = MAX_REPOSITORY_NAME
MAX_USERNAME = 255
# Slack's plain_text_input accepts max_length 1..3000: a longer secret cannot be typed
# into the modal, so the use cases refuse it too (a service-account JSON key is ~2.4 KB).
MAX_SECRET = 3000
MAX_URL = 2048
MAX_CA_BUNDLE = 64 * 1024
# A host name (RFC 1035 section 2.3.4, RFC 1123 section 2.1): labels of 1..63 characters,
# 253 in all (without the root dot). Letters, digits and hyphens; an underscore is kept
# for the internal names some sites give their registries (`docker_registry.internal`).
MAX_HOST = 253
MAX_LABEL = 63
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")


class Creation(StrEnum):
    NEW = "new"
    EXISTING = "existing"


class Field(StrEnum):
    """Form field names, shared with the handlers that map them to block ids."""

    REGISTRY_TYPE = "registry_type"
    CREATION = "creation"
    TOOL = "tool"
    REGISTRY_URL = "registry_url"
    REPOSITORY = "repository"
    USERNAME = "username"
    SECRET = "secret"
    CA_BUNDLE = "ca_bundle"


@dataclass(frozen=True)
class RepositoryForm:
    """What the user typed into the add modal (or the CLI). The secret is plaintext here."""

    access: RepositoryAccess
    registry_type: str
    repository: str
    creation: Creation = Creation.EXISTING
    tool_id: int | None = None
    registry_url: str | None = None
    username: str | None = None
    secret: str | None = field(default=None, repr=False)
    ca_bundle_pem: str | None = field(default=None, repr=False)
    insecure: bool = False
    save_unhealthy: bool = False


def normalize_url(value: str) -> str:
    """`HTTPS://Registry.example.com:5000/` -> `https://registry.example.com:5000`."""
    value = value.strip()
    parts = urlsplit(value)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def host_problem(host: str) -> str | None:
    """Why `host` (as urlsplit gives it: lowercase, IPv6 without brackets) is neither a DNS
    name nor an IP literal, or None when it is one. International names go through IDNA
    (`registry.bücher.example` is `registry.xn--bcher-kva.example`)."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host.removesuffix(".")) > MAX_HOST:
        return (
            f"The host name must be a DNS name of at most {MAX_HOST} characters "
            "(e.g. registry.example.com) or an IP address."
        )
    if not all(len(label) <= MAX_LABEL and _LABEL.fullmatch(label) for label in labels):
        return (
            "The host name must be a DNS name (letters, digits and hyphens, "
            f"parts of 1 to {MAX_LABEL} characters between dots, e.g. registry.example.com) "
            "or an IP address."
        )
    if all(label.isdigit() for label in labels):
        return N_("The host looks like an IP address but is not one (each part 0 to 255).")
    return None


def url_problem(value: str) -> str | None:
    """Why this is not a registry base URL, or None when it is one."""
    if len(value) > MAX_URL:
        return f"At most {MAX_URL} characters."
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return N_("Not a URL: use the form https://registry.example.com[:port].")
    if parts.scheme.lower() not in ("http", "https"):
        return N_("Use an http:// or https:// URL, e.g. https://registry.example.com.")
    if not parts.hostname:
        return N_("The URL has no host name.")
    if problem := host_problem(parts.hostname):
        return problem
    if parts.username or parts.password:
        return N_("Put the credentials in Username and Password, not in the URL.")
    if parts.query or parts.fragment:
        return N_("Remove the ?query or #fragment from the URL.")
    if port == 0:
        return N_("The port must be between 1 and 65535.")
    if parts.path.rstrip("/") not in ("", "/v2"):
        return N_("Give the registry's base URL, without a path (the /v2/ API is found from it).")
    return None


def repository_problem(name: str, registry_type: RegistryType) -> str | None:
    if not name:
        return N_("Enter the repository, e.g. team/app.")
    if len(name) > MAX_REPOSITORY:
        return f"At most {MAX_REPOSITORY} characters."
    if not is_repository_name(name):
        return (
            "Use lowercase letters, digits and separators (. _ __ -) in path components "
            "joined by /, e.g. team/app; no tag or digest."
        )
    info = type_info(registry_type)
    if name.count("/") + 1 < info.min_name_parts:
        return info.name_rule  # a msgid of the type's row (registry.kinds)
    return None


def _ca_problem(pem: str) -> str | None:
    if len(pem) > MAX_CA_BUNDLE:
        return N_("The CA bundle is too large (64 KiB at most).")
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return N_("Not a PEM certificate bundle (-----BEGIN CERTIFICATE----- ...).")
    return None


def validate(form: RepositoryForm, *, dockerhub_url: str) -> RepositoryForm:
    """Check every field; return the normalised form or raise InvalidInput with all problems."""
    errors: dict[str, str] = {}
    try:
        registry_type = RegistryType(form.registry_type)
    except ValueError:
        raise InvalidInput({Field.REGISTRY_TYPE: N_("Choose a repository type.")}) from None
    info = type_info(registry_type)

    if form.creation is Creation.NEW and not info.can_create:
        errors[Field.CREATION] = f"{info.label} offers only Use existing repository."
    if info.needs_registered_tool and form.tool_id is None:
        errors[Field.TOOL] = N_("Choose a registered tool.")

    registry_url = form.registry_url
    if info.configured_url:
        registry_url = dockerhub_url
    elif not info.needs_registered_tool:
        if (not registry_url or not registry_url.strip()) and info.default_url:
            registry_url = info.default_url  # the type's public host
        if not registry_url or not registry_url.strip():
            errors[Field.REGISTRY_URL] = N_(
                "Enter the registry URL, e.g. https://registry.example.com."
            )
        elif problem := url_problem(registry_url):
            errors[Field.REGISTRY_URL] = problem
        else:
            registry_url = normalize_url(registry_url).removesuffix("/v2")

    repository = (form.repository or "").strip()
    if info.bare_name_namespace and repository and "/" not in repository:
        repository = f"{info.bare_name_namespace}/{repository}"
    if problem := repository_problem(repository, registry_type):
        errors[Field.REPOSITORY] = problem

    username = (form.username or "").strip() or None
    secret = form.secret or None
    if info.key_username and secret and not username:
        username = info.key_username
    if username and len(username) > MAX_USERNAME:
        errors[Field.USERNAME] = f"At most {MAX_USERNAME} characters."
    if secret and len(secret) > MAX_SECRET:
        errors[Field.SECRET] = f"At most {MAX_SECRET} characters."
    if username and not secret:
        errors[Field.SECRET] = N_("Enter the password or access token for this user.")
    if secret and not username:
        errors[Field.USERNAME] = N_("Enter the user name that goes with this password or token.")
    if not info.needs_registered_tool and form.creation is Creation.NEW and not username:
        errors.setdefault(Field.USERNAME, N_("Creating a repository needs an account."))

    ca_bundle = (form.ca_bundle_pem or "").strip() or None
    if ca_bundle and (problem := _ca_problem(ca_bundle)):
        errors[Field.CA_BUNDLE] = problem

    if errors:
        raise InvalidInput(errors)
    return replace(
        form,
        registry_type=registry_type.value,
        registry_url=registry_url,
        repository=repository,
        username=username,
        secret=secret,
        ca_bundle_pem=ca_bundle,
    )


def fingerprint(form: RepositoryForm, key: bytes) -> str:
    """A keyed digest of every value a connection test depends on.

    The modal keeps the digest of the last passing test in private_metadata (never
    the values themselves); Save re-runs the test when the digest differs.
    """
    material = "\x1f".join(
        str(part)
        for part in (
            form.access.value,
            form.registry_type,
            form.creation.value,
            form.tool_id,
            form.registry_url,
            form.repository,
            form.username,
            form.secret,
            form.ca_bundle_pem,
            form.insecure,
        )
    )
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:32]
