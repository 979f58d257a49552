"""`imagerepo-bot check --type ghcr|gitlab|quay` through the installed console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.certs import TestCA
from tests.support.hosted_standins import GitHubStandIn, GitLabStandIn, QuayStandIn
from tests.support.registry_server import skip_or_fail_without_registry

pytestmark = pytest.mark.registry


def _script() -> str:
    found = shutil.which("imagerepo-bot", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the imagerepo-bot console script is not installed")
    return found


@pytest.fixture
def standins(
    registry_ca: TestCA, tmp_path: Path
) -> Iterator[tuple[GitHubStandIn, GitLabStandIn, QuayStandIn]]:
    skip_or_fail_without_registry()
    made = (
        GitHubStandIn(registry_ca, tmp_path / "gh"),
        GitLabStandIn(registry_ca, tmp_path / "gl"),
        QuayStandIn(registry_ca, tmp_path / "qy"),
    )
    for standin in made:
        standin.start()
    try:
        yield made
    finally:
        for standin in made:
            standin.stop()


def check(
    env: dict[str, str], url: str, kind: str, repo: str, user: str, secret: str
) -> subprocess.CompletedProcess[str]:
    argv = [_script(), "check", url, "--type", kind, "--repository", repo,
            "--username", user, "--password-stdin"]  # fmt: skip
    return subprocess.run(
        argv, input=secret + "\n", capture_output=True, text=True, env=env, timeout=60
    )


def test_check_each_hosted_type(standins: tuple[GitHubStandIn, GitLabStandIn, QuayStandIn]) -> None:
    github, gitlab, quay = standins
    github.add_package("acme/app")
    gitlab.add_project("team/app")
    gitlab.add_image("team/app")
    quay.add_repository("acme/app")
    env = {
        **os.environ,
        "IMAGEREPO_ALLOWED_NETWORKS": "127.0.0.0/8",
        "IMAGEREPO_GITHUB_API_URL": github.api_url,
    }
    octo = github.credentials("octo")
    done = check(env, github.registry_url, "ghcr", "acme/app", *octo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "token scopes: delete:packages, read:packages, write:packages" in done.stdout
    assert octo[1] not in done.stdout + done.stderr

    reader = check(env, github.registry_url, "ghcr", "acme/app", *github.credentials("reader"))
    assert reader.returncode == 1
    assert reader.stdout.splitlines()[-1].startswith("FAILED (permission_denied): Push failed")
    assert "write:packages" in reader.stdout

    lab = check(env, gitlab.registry_url, "gitlab", "team/app", *gitlab.credentials("readonly"))
    assert lab.returncode == 1 and "write_registry" in lab.stdout.splitlines()[-1]
    ok = check(env, gitlab.registry_url, "gitlab", "team/app", *gitlab.credentials("maint"))
    assert ok.returncode == 0, ok.stdout

    robot = check(env, quay.registry_url, "quay", "acme/app", *quay.robot)
    assert robot.returncode == 0, robot.stdout
    assert "robot account acme+ci" in robot.stdout
    missing = check(env, quay.registry_url, "quay", "acme/none", "$oauthtoken", quay.admin_token)
    assert missing.returncode == 1
    assert "FAILED (repository_not_found)" in missing.stdout.splitlines()[-1]


def test_check_agrees_with_upstream_for_tokens_names_and_owners(
    standins: tuple[GitHubStandIn, GitLabStandIn, QuayStandIn],
) -> None:
    """Issue 21 from the terminal (the Slack button's code path): a GitLab read_api token
    pulls, a deploy token passes, Quay nested names and an OAuth token without user:read
    pass, and GHCR finds a package of another user."""
    github, gitlab, quay = standins
    gitlab.add_project("team/app")
    gitlab.add_image("team/app")
    quay.add_repository("acme/team/app")
    github.add_package("mona/tool", admins=("octo",))
    env = {
        **os.environ,
        "IMAGEREPO_ALLOWED_NETWORKS": "127.0.0.0/8",
        "IMAGEREPO_GITHUB_API_URL": github.api_url,
    }

    def passes(kind: str, url: str, repo: str, user: str, secret: str, *extra: str) -> str:
        argv = [_script(), "check", url, "--type", kind, "--repository", repo,
                "--username", user, "--password-stdin", *extra]  # fmt: skip
        done = subprocess.run(
            argv, input=secret + "\n", capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert secret not in done.stdout + done.stderr
        return done.stdout

    read_api = passes(
        "gitlab", gitlab.registry_url, "team/app", *gitlab.credentials("readapi"), "--pull-only"
    )
    assert "read_api" in read_api and "lacks" not in read_api
    deploy = passes("gitlab", gitlab.registry_url, "team/app", *gitlab.deploy)
    assert "deploy token" in deploy
    nested = passes("quay", quay.registry_url, "acme/team/app", "$oauthtoken", quay.repo_token)
    assert "acme/team/app" in nested
    other_user = passes("ghcr", github.registry_url, "mona/tool", *github.credentials("octo"))
    assert "mona/tool" in other_user
