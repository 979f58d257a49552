"""`imagerepo-bot check --type ecr|gar|acr` through the installed console script: the
long-lived credential comes from stdin, the registry credential is minted, never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cloud_acr import CLIENT_ID, CLIENT_SECRET, TENANT, AcrSetup, acr  # noqa: F401
from tests.support.cloud_ecr import ACCESS_KEY_ID, SECRET_ACCESS_KEY, EcrStandIn, ecr  # noqa: F401
from tests.support.cloud_gar import SEED_PASSWORD, GarSetup, gar  # noqa: F401

pytestmark = pytest.mark.registry

SCRIPT = str(Path(sys.executable).parent / "imagerepo-bot")


def check(env: dict[str, str], stdin: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "check", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "IMAGEREPO_ALLOWED_NETWORKS": "127.0.0.0/8", **env},
        timeout=90,
    )


def test_check_type_ecr(ecr: EcrStandIn, unique_repo: str) -> None:  # noqa: F811
    ecr.registry.client("AWS", ecr.password).push_image(unique_repo)
    done = check(
        {}, SECRET_ACCESS_KEY + "\n",
        ecr.registry.url, "--type", "ecr", "--repository", unique_repo,
        "--username", ACCESS_KEY_ID, "--password-stdin",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ecr:GetAuthorizationToken" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("PASSED:")
    assert SECRET_ACCESS_KEY not in done.stdout + done.stderr
    assert ecr.password not in done.stdout + done.stderr

    wrong = check(
        {"AWS_REGION": ""}, SECRET_ACCESS_KEY + "\n",
        ecr.registry.url, "--type", "ecr", "--repository", unique_repo,
        "--username", ACCESS_KEY_ID, "--password-stdin",
    )  # fmt: skip
    assert wrong.returncode == 1
    assert wrong.stdout.splitlines()[-1].startswith("FAILED (invalid_url)")


def test_check_type_gar(gar: GarSetup) -> None:  # noqa: F811
    gar.registry.client("seed", SEED_PASSWORD).push_image("acme-prod/docker/api")
    key = gar.google.key_json()
    done = check(
        {}, key,
        gar.registry.url, "--type", "gar", "--repository", "acme-prod/docker/api",
        "--username", "_json_key", "--password-stdin",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "access token minted for" in done.stdout
    assert gar.google.minted and gar.google.minted[0] not in done.stdout
    assert "PRIVATE KEY" not in done.stdout + done.stderr


def test_check_type_acr(acr: AcrSetup, unique_repo: str) -> None:  # noqa: F811
    acr.push(unique_repo)
    done = check(
        {"IMAGEREPO_AZURE_AUTHORITY": acr.url}, CLIENT_SECRET,
        acr.url, "--type", "acr", "--repository", unique_repo,
        "--username", f"{TENANT}/{CLIENT_ID}", "--password-stdin",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/oauth2/exchange" in done.stdout
    assert CLIENT_SECRET not in done.stdout + done.stderr
    assert acr.front.exchanges == 1
