"""Settings are read from the environment exactly as DESIGN.md lists them, and checked."""

from __future__ import annotations

import ipaddress
import re

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_match_the_design() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///./imagerepo.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.recheck_interval == 3600
    assert settings.recheck_concurrency == 50
    assert settings.alert_after == 2
    assert settings.dockerhub_registry_url == "https://registry-1.docker.io"
    assert settings.dockerhub_api_url == "https://hub.docker.com"
    assert settings.port == 3000
    assert settings.allowed_networks == ()
    assert settings.slack_app_token is None
    assert settings.metrics_port is None


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "sig",
            "SLACK_APP_TOKEN": "xapp-1",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
            "IMAGEREPO_SECRET_KEYS": "k1, k2",
            "IMAGEREPO_ALLOWED_NETWORKS": "10.0.0.0/8,127.0.0.1/32",
            "IMAGEREPO_RECHECK_INTERVAL": "2.5",
            "IMAGEREPO_RECHECK_CONCURRENCY": "7",
            "IMAGEREPO_ALERT_AFTER": "3",
            "IMAGEREPO_DOCKERHUB_REGISTRY_URL": "http://127.0.0.1:5000",
            "IMAGEREPO_DOCKERHUB_API_URL": "http://127.0.0.1:5001",
            "PORT": "8080",
            "METRICS_PORT": "9100",
            "IMAGEREPO_AUDIT_RETENTION_DAYS": "30",
        }
    )
    assert settings.require_slack_credentials() == ("xoxb-1", "sig")
    assert settings.slack_app_token == "xapp-1"
    assert settings.secret_keys == ("k1", "k2")
    assert settings.allowed_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )
    assert (settings.recheck_interval, settings.recheck_concurrency, settings.alert_after) == (
        2.5,
        7,
        3,
    )
    assert settings.port == 8080
    assert settings.metrics_port == 9100
    assert settings.audit_retention_days == 30
    assert settings.sqlite_path is None
    assert Settings.from_env({}).audit_retention_days == 400


def test_secrets_stay_out_of_the_repr() -> None:
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-very-secret", "SLACK_SIGNING_SECRET": "sig-secret-value"}
    )
    assert "xoxb-very-secret" not in repr(settings)
    assert "sig-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a database URL"),
        ("DATABASE_URL", "mysql://root@localhost/db", "only sqlite and postgresql"),
        ("IMAGEREPO_ALLOWED_NETWORKS", "10.0.0.0/8,banana", "'banana' is not a CIDR"),
        ("IMAGEREPO_RECHECK_INTERVAL", "-5", "positive number of seconds"),
        ("IMAGEREPO_RECHECK_INTERVAL", "nan", "positive number of seconds"),
        ("IMAGEREPO_RECHECK_CONCURRENCY", "0", "positive whole number"),
        ("IMAGEREPO_ALERT_AFTER", "two", "positive whole number"),
        (
            "IMAGEREPO_AUDIT_RETENTION_DAYS",
            "0",
            "IMAGEREPO_AUDIT_RETENTION_DAYS must be a positive",
        ),
        ("IMAGEREPO_AUDIT_RETENTION_DAYS", "1 year", "positive whole number"),
        ("PORT", "70000", "PORT must be a TCP port"),
        ("METRICS_PORT", "abc", "METRICS_PORT must be a TCP port number"),
        ("METRICS_PORT", "0", "METRICS_PORT must be a TCP port number"),
        ("METRICS_PORT", "65536", "METRICS_PORT must be a TCP port number"),
        ("METRICS_PORT", "9" * 5000, "METRICS_PORT must be a TCP port number"),
        ("METRICS_PORT", "3000", r"METRICS_PORT must differ from PORT \(3000\)"),
        ("SLACK_API_URL", "slack.com/api", "must start with http"),
    ],
)
def test_malformed_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


def test_missing_slack_credentials_say_where_to_get_them() -> None:
    with pytest.raises(
        SettingsError, match=r"SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET not set.*manifest\.yml"
    ):
        Settings.from_env({}).require_slack_credentials()


def test_bind_addresses_and_log_settings_are_read() -> None:
    settings = Settings.from_env(
        {"HOST": "127.0.0.1", "METRICS_HOST": "::1", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text"}
    )
    assert (settings.host, settings.metrics_host) == ("127.0.0.1", "::1")
    assert (settings.log_level, settings.log_format) == ("debug", "text")
    defaults = Settings.from_env({})
    assert (defaults.host, defaults.metrics_host, defaults.log_level) == (
        "0.0.0.0",
        "0.0.0.0",
        "info",
    )


def test_log_format_defaults_to_text_on_a_terminal_only() -> None:
    from bot.settings import default_log_format

    class Terminal:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    assert default_log_format(Terminal()) == "text"
    assert default_log_format(Pipe()) == "json"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOST": "localhost"}, "HOST must be an IP address"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of json, text, not 'xml'"),
    ],
)
def test_bad_bind_or_log_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


def test_a_token_of_the_wrong_kind_is_named_without_the_token() -> None:
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": "xapp-1-secret-part", "SLACK_SIGNING_SECRET": "sig"}
    )
    with pytest.raises(SettingsError) as error:
        settings.require_slack_credentials()
    assert "SLACK_BOT_TOKEN is an app-level token" in str(error.value)
    assert "secret-part" not in str(error.value)
