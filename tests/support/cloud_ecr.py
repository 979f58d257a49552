"""Amazon ECR for tests: moto in server mode as the ECR/STS API, a real docker-registry
as the registry, whose htpasswd holds `AWS` and the password moto's
`GetAuthorizationToken` returns (decoded from moto's own answer).

moto's ECR and STS handlers run in this process (ThreadedMotoServer), so a test
can count the calls that reached them: `calls["GetAuthorizationToken"]`.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.ecr.responses import ECRResponse
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.sts.responses import TokenResponse

from tests.support.registry_server import RegistryServer, skip_or_fail_without_registry

ACCESS_KEY_ID = "AKIAIMAGEREPOTEST01"
SECRET_ACCESS_KEY = "ecr-test-secret-access-key-0123456789abc"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/imagerepo-ci"


@dataclass
class EcrStandIn:
    endpoint: str
    registry: RegistryServer
    password: str
    calls: dict[str, int] = field(default_factory=dict)

    def client(self) -> Any:
        return boto3.client(
            "ecr",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def repositories(self) -> list[str]:
        answer = self.client().describe_repositories()
        return sorted(r["repositoryName"] for r in answer["repositories"])

    def env(self) -> dict[str, str]:
        """What a bot process needs to reach this stand-in (boto3 reads these itself)."""
        return {
            "AWS_ENDPOINT_URL_ECR": self.endpoint,
            "AWS_ENDPOINT_URL_STS": self.endpoint,
            "AWS_REGION": REGION,
        }


def _counting(name: str, original: Callable[..., Any], calls: dict[str, int]) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[name] = calls.get(name, 0) + 1
        return original(self, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def open_ecr(workdir: Path) -> Iterator[EcrStandIn]:
    """moto on loopback + a docker-registry accepting `AWS` and moto's minted password."""
    skip_or_fail_without_registry()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        probe = boto3.client(
            "ecr",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        token = probe.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        user, _, password = base64.b64decode(token).decode().partition(":")
        assert user == "AWS"
        with RegistryServer(workdir, htpasswd={"AWS": password}) as registry:
            yield EcrStandIn(endpoint, registry, password)
    finally:
        server.stop()


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EcrStandIn]:
    """`open_ecr` with AWS_* pointing at it and moto's ECR/STS calls counted."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with open_ecr(tmp_path / "ecr-registry") as stand_in:
        monkeypatch.setattr(
            ECRResponse,
            "get_authorization_token",
            _counting("GetAuthorizationToken", ECRResponse.get_authorization_token, stand_in.calls),
        )
        monkeypatch.setattr(
            TokenResponse,
            "assume_role",
            _counting("AssumeRole", TokenResponse.assume_role, stand_in.calls),
        )
        for key, value in stand_in.env().items():
            monkeypatch.setenv(key, value)
        yield stand_in
