"""Validation of the add form: every problem reported under its own field, values normalised."""

from __future__ import annotations

import pytest

from bot.usecases.errors import InvalidInput
from bot.usecases.forms import Creation, RepositoryForm, fingerprint, validate
from storage.enums import RepositoryAccess

HUB = "https://registry-1.docker.io"


def form(**values: object) -> RepositoryForm:
    base: dict[str, object] = {
        "access": RepositoryAccess.APP,
        "registry_type": "registry",
        "registry_url": "https://registry.example.com",
        "repository": "team/app",
        "username": "ci",
        "secret": "pw",
    }
    base.update(values)
    return RepositoryForm(**base)  # type: ignore[arg-type]


def errors_of(candidate: RepositoryForm) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        validate(candidate, dockerhub_url=HUB)
    return info.value.errors


def test_a_good_form_is_normalised() -> None:
    valid = validate(form(registry_url="HTTPS://Registry.Example.com:5000/v2/"), dockerhub_url=HUB)
    assert valid.registry_url == "https://registry.example.com:5000"
    assert valid.repository == "team/app"


def test_docker_hub_official_images_live_under_library() -> None:
    valid = validate(
        form(registry_type="dockerhub", registry_url=None, repository="nginx"), dockerhub_url=HUB
    )
    assert (valid.registry_url, valid.repository) == (HUB, "library/nginx")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the registry URL"),
        ("ftp://registry.example.com", "http:// or https://"),
        ("https://user:pw@registry.example.com", "not in the URL"),
        ("https://registry.example.com/some/path", "without a path"),
        ("https://registry.example.com?x=1", "query"),
        ("https://", "no host name"),
        ("https://registry.example.com:99999", "Not a URL"),
        # issue 19: hosts that are no DNS name and no IP literal
        ("https://" + "&" * 1200 + ".example", "must be a DNS name"),
        ("https://a&b.example.com", "must be a DNS name"),
        ("https://" + "a" * 64 + ".example.com", "1 to 63 characters"),
        ("https://" + ".".join(["a" * 63] * 4) + ".com", "at most 253 characters"),
        ("https://registry..example.com", "must be a DNS name"),
        ("https://-registry.example.com", "must be a DNS name"),
        ("https://1.2.3.999:5000", "not one"),
    ],
)
def test_bad_urls_are_reported_under_registry_url(url: str, message: str) -> None:
    assert message in errors_of(form(registry_url=url))["registry_url"]


@pytest.mark.parametrize(
    "url",
    [
        "https://registry.example.com:5000",
        "http://127.0.0.1:5000",
        "http://[::1]:5000",
        "https://registry.bücher.example",  # IDNA
        "https://docker_registry.internal",
        "https://" + ".".join(["a" * 63] * 3) + "." + "b" * 61,  # 253 characters
    ],
)
def test_dns_names_and_ip_literals_are_accepted(url: str) -> None:
    assert validate(form(registry_url=url), dockerhub_url=HUB).registry_url == url.lower()


@pytest.mark.parametrize(
    "name",
    ["Team/App", "team//app", "team/app:latest", "-team/app", "team/app@sha256:abc", "a" * 256],
)
def test_names_outside_the_oci_grammar_are_refused(name: str) -> None:
    assert "repository" in errors_of(form(repository=name))


def test_harbor_needs_a_tool_and_a_project_prefix() -> None:
    errors = errors_of(form(registry_type="harbor", registry_url=None, repository="app"))
    assert errors["tool"] == "Choose a registered tool."
    assert "PROJECT/NAME" in errors["repository"]


def test_only_registered_tools_may_create() -> None:
    # Docker Hub creates through its API since issue 21; a plain registry still cannot.
    errors = errors_of(form(registry_type="registry", creation=Creation.NEW))
    assert errors["creation"] == "Image Registry offers only Use existing repository."


def test_user_and_secret_go_together_and_every_problem_is_listed() -> None:
    errors = errors_of(form(username="ci", secret=None, registry_url="gopher://x", repository="UP"))
    assert set(errors) == {"secret", "registry_url", "repository"}
    assert "username" in errors_of(form(username=None, secret="token"))


def test_a_bad_ca_bundle_is_refused() -> None:
    assert "PEM" in errors_of(form(ca_bundle_pem="not a certificate"))["ca_bundle"]


def test_fingerprint_changes_with_any_tested_value_and_hides_them() -> None:
    key = b"k" * 32
    base = validate(form(), dockerhub_url=HUB)
    digest = fingerprint(base, key)
    assert digest == fingerprint(base, key)
    assert digest != fingerprint(validate(form(secret="other"), dockerhub_url=HUB), key)
    assert digest != fingerprint(validate(form(repository="team/other"), dockerhub_url=HUB), key)
    assert "pw" not in digest and len(digest) == 32
