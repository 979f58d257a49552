"""The public values of `registry`: kinds, types, targets, config parsing (no network)."""

from __future__ import annotations

import ipaddress

import pytest

from registry import (
    ALL_TYPES,
    Credentials,
    ErrorKind,
    RegisteredTool,
    RegistryConfig,
    RegistryError,
    RegistryType,
    RepositoryTarget,
    TlsOptions,
    config_from_env,
    parse_allowed_networks,
    type_info,
    validate_ca_bundle,
)
from tests.support.certs import TestCA


def test_error_kinds_are_the_stored_lowercase_values() -> None:
    required = {
        "invalid_url", "refused_target", "dns_failure", "connection_refused", "timeout",
        "tls_error", "not_a_registry", "authentication_failed", "permission_denied",
        "repository_not_found", "rate_limited", "registry_error", "delete_unsupported",
        "already_exists", "unsupported_operation",
    }  # fmt: skip
    values = {kind.value for kind in ErrorKind}
    assert required <= values
    assert all(v == v.lower() and " " not in v for v in values)
    assert ErrorKind("timeout") is ErrorKind.TIMEOUT


def test_registry_error_is_its_one_line_message() -> None:
    error = RegistryError(ErrorKind.TIMEOUT, "The registry\n did not answer.")
    assert str(error) == error.message == "The registry did not answer."
    assert error.kind is ErrorKind.TIMEOUT
    assert RegistryError(ErrorKind.REGISTRY_ERROR, "x" * 5000).message.endswith("…")


def test_the_ui_asks_each_type_what_it_can_do() -> None:
    assert ALL_TYPES == (
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
    harbor, hub, ghcr, gitlab, quay, _ecr, _acr, _gar, plain = (type_info(t) for t in ALL_TYPES)
    hosted = {i.label: i.default_url for i in (ghcr, gitlab, quay)}
    assert hosted == {
        "GitHub Container Registry": "https://ghcr.io",
        "GitLab Container Registry": "https://registry.gitlab.com",
        "Quay": "https://quay.io",
    }
    assert all(i.has_url_check and i.can_delete_in_ir for i in (ghcr, gitlab, quay))
    assert [harbor.label, hub.label, plain.label] == ["Harbor", "Docker Hub", "Image Registry"]
    assert harbor.can_create and harbor.needs_registered_tool and not harbor.has_url_check
    assert hub.can_create and hub.can_delete_in_ir and not hub.needs_registered_tool
    assert hub.default_url == "https://registry-1.docker.io"
    assert not plain.can_create and plain.has_url_check and plain.can_delete_in_ir
    assert plain.default_url is None and harbor.default_url is None
    mirror = RegistryConfig(dockerhub_registry_url="https://hub-mirror.example")
    assert type_info("dockerhub", mirror).default_url == "https://hub-mirror.example"
    assert RegistryType("registry") is RegistryType.IMAGE_REGISTRY


def test_cloud_types_say_what_they_can_do() -> None:
    ecr, acr, gar = (type_info(t) for t in ("ecr", "acr", "gar"))
    assert [ecr.label, acr.label, gar.label] == [
        "Amazon ECR",
        "Azure Container Registry",
        "Google Artifact Registry",
    ]
    assert ecr.can_create and gar.can_create and not acr.can_create  # ACR creates on push
    assert all(t.can_delete_in_ir and t.has_url_check for t in (ecr, acr, gar))
    assert "access key id" in ecr.credentials_hint and "_json_key" in gar.credentials_hint
    assert {RegistryType.ECR, RegistryType.ACR, RegistryType.GAR} <= set(ALL_TYPES)


def test_secrets_never_show_in_reprs() -> None:
    credentials = Credentials("alice", "S3cret-visible?")
    target = RepositoryTarget(
        RegistryType.HARBOR,
        "https://h",
        "p/r",
        credentials,
        False,
        tool=RegisteredTool("https://h", Credentials("admin", "AdminS3cret"), TlsOptions()),
    )
    for text in (repr(credentials), str(credentials), repr(target), str(target)):
        assert "S3cret-visible?" not in text
        assert "AdminS3cret" not in text
    assert "alice" in repr(credentials)


def test_allowed_networks_parse_and_reject_typos_clearly() -> None:
    assert parse_allowed_networks("") == ()
    assert parse_allowed_networks("127.0.0.0/8, 10.0.0.0/8 ::1") == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(
        ValueError, match=r"'10\.0\.0\.1/8' has host bits set; did you mean 10\.0\.0\.0/8"
    ):
        parse_allowed_networks("10.0.0.1/8")
    with pytest.raises(ValueError, match="'intranet' is not an IP network"):
        parse_allowed_networks("127.0.0.0/8,intranet")


def test_config_from_env() -> None:
    config = config_from_env(
        {
            "IMAGEREPO_ALLOWED_NETWORKS": "127.0.0.0/8",
            "IMAGEREPO_DOCKERHUB_REGISTRY_URL": "http://127.0.0.1:5000",
        }
    )
    assert config.allowed_networks == (ipaddress.ip_network("127.0.0.0/8"),)
    assert config.dockerhub_registry_url == "http://127.0.0.1:5000"
    assert config.dockerhub_api_url == "https://hub.docker.com"


def test_ca_bundle_validation_explains_what_is_wrong() -> None:
    validate_ca_bundle(TestCA().cert_pem)
    with pytest.raises(ValueError, match="must contain PEM certificates"):
        validate_ca_bundle("not a certificate")
    with pytest.raises(ValueError, match="not valid PEM"):
        validate_ca_bundle("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
