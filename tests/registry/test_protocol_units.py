"""Pure protocol pieces: URL rules, address rules, challenges, token cache, rate-limit text."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry import Credentials, ErrorKind, RegistryError, check_repository_name
from registry.auth import (
    Token,
    TokenCache,
    TokenKey,
    parse_token_response,
    parse_www_authenticate,
    secret_fingerprint,
    select_challenge,
)
from registry.dockerhub import normalize_repository
from registry.errors import scrub, secret_forms
from registry.harbor import encode_repository, split_repository
from registry.ratelimit import rate_limit_error
from registry.urlguard import UrlGuard, forbidden_reason, parse_url


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("https://registry.example.com", "https://registry.example.com"),
        ("registry.example.com:5000", "https://registry.example.com:5000"),
        ("http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000"),
        ("HTTPS://Registry.Example.COM/", "https://registry.example.com"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://example.com/prefix/", "https://example.com/prefix"),
    ],
)
def test_urls_are_normalised(text: str, base: str) -> None:
    assert parse_url(text).base == base


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "is empty"),
        ("ftp://registry.example.com", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("https://user:hunter2@registry.example.com", "must not contain a username or password"),
        ("https://registry.example.com/?x=1", "must not have a query"),
        ("https://registry example.com", "contains spaces"),
        ("https://bad_host!.com", "invalid host name"),
        ("https://registry.example.com:99999", "not a valid URL"),
    ],
)
def test_invalid_urls_are_refused_with_a_reason(text: str, phrase: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_url(text)
    assert caught.value.kind is ErrorKind.INVALID_URL
    assert phrase in caught.value.message
    assert "hunter2" not in caught.value.message


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("fd00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved or non-public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
    ],
)
def test_internal_addresses_are_named(address: str, reason: str) -> None:
    found = forbidden_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found


def test_public_addresses_pass_and_allowed_networks_open_internal_ones() -> None:
    assert forbidden_reason(ipaddress.ip_address("93.184.216.34")) is None
    guard = UrlGuard((ipaddress.ip_network("10.0.0.0/8"),))
    assert guard.refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert guard.refusal(ipaddress.ip_address("::ffff:10.9.9.9")) is None
    assert guard.refusal(ipaddress.ip_address("169.254.169.254")) is not None


def test_challenges_are_parsed_like_registries_send_them() -> None:
    bearer = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull",error="insufficient_scope"'
    (challenge,) = parse_www_authenticate([bearer])
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.service == "registry.docker.io"
    assert challenge.params["scope"] == "repository:library/nginx:pull"
    assert challenge.insufficient_scope
    both = parse_www_authenticate(['Basic realm="r"', "Bearer realm=http://t/token,service=s"])
    chosen = select_challenge(both)
    assert chosen is not None and chosen.scheme == "bearer" and chosen.realm == "http://t/token"
    assert select_challenge(parse_www_authenticate(["Negotiate"])) is None


@given(st.text(max_size=200))
def test_challenge_parser_never_fails(text: str) -> None:
    for challenge in parse_www_authenticate([text]):
        assert challenge.scheme


def test_token_responses() -> None:
    assert parse_token_response({"token": "a", "expires_in": 300}) == Token("a", 300.0)
    assert parse_token_response({"access_token": "b"}) == Token("b", 60.0)
    assert parse_token_response({"nothing": 1}) is None
    assert parse_token_response(["token"]) is None


def test_token_cache_expires_and_keys_on_the_secret() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    key = TokenKey("r", "s", "alice", secret_fingerprint(Credentials("alice", "one")), ("x",))
    cache.put(key, Token("tok", 60.0))
    assert cache.get(key) == "tok"
    other = TokenKey("r", "s", "alice", secret_fingerprint(Credentials("alice", "two")), ("x",))
    assert cache.get(other) is None, "a changed password must not reuse the old token"
    now[0] += 55
    assert cache.get(key) is None, "tokens are dropped before they expire"


def test_secrets_are_scrubbed_in_plain_and_basic_forms() -> None:
    forms = secret_forms("p4ss-word", "alice")
    text = "echo p4ss-word and Basic YWxpY2U6cDRzcy13b3Jk"
    assert scrub(text, forms) == "echo *** and Basic ***"


def test_scrub_finds_secrets_as_long_as_the_text_and_in_any_case() -> None:
    token = "eyJ" + "a" * 5000  # a token far longer than a step's line is skipped there
    assert (
        scrub("pull allowed with Bearer token", [token, "BEARER"]) == "pull allowed with *** token"
    )
    assert scrub("Secret-Token", ["secret-token"]) == "***", "as long as the text"
    assert scrub(f"echo {token.upper()}!", [token]) == "echo ***!"
    assert scrub("ab", ["abc"]) == "ab"


def test_rate_limit_messages_say_when_the_limit_resets() -> None:
    clock = lambda: 1_800_000_000.0  # noqa: E731
    hub = rate_limit_error(httpx.Headers({"X-RateLimit-Reset": "1800000720"}), "Docker Hub", clock)
    assert hub.kind is ErrorKind.RATE_LIMITED
    assert "Docker Hub" in hub.message and "2027-01-15 08:12 UTC (in 12 min)" in hub.message
    pulls = rate_limit_error(
        httpx.Headers({"ratelimit-limit": "100;w=21600", "retry-after": "3600"}),
        "the registry",
        clock,
    )
    assert "100 pulls per 6 h" in pulls.message and "(in 60 min)" in pulls.message
    assert "try again later" in rate_limit_error(httpx.Headers({}), "x", clock).message


def test_repository_names() -> None:
    assert check_repository_name(" team/app ") == "team/app"
    for bad in ("Team/App", "a//b", "-x", "", "a:b"):
        with pytest.raises(RegistryError) as caught:
            check_repository_name(bad)
        assert caught.value.kind is ErrorKind.INVALID_REPOSITORY
    assert normalize_repository("nginx") == "library/nginx"
    assert normalize_repository("docker.io/bitnami/redis") == "bitnami/redis"
    assert split_repository("apps/tools/builder") == ("apps", "tools/builder")
    assert encode_repository("tools/builder") == "tools%252Fbuilder"
    with pytest.raises(RegistryError, match="project/name"):
        split_repository("lonely")
