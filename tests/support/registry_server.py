"""Real registries for tests: Debian's `docker-registry` (CNCF distribution 2.8.2).

`RegistryServer` writes a config (htpasswd or token auth, optional TLS from
the test CA, deletion on or off, read-only), starts the binary on a loopback
port, waits on `/v2/` with a bounded poll, and `stop()`s it; `start()` again
brings it back on the same port with the same storage ("registry down, then
up").  `RegistryClient` pushes small images through the plain HTTP API so
tests have content, and reads tags/manifests back for assertions.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml

from tests.support.certs import IssuedCert, TestCA
from tests.support.registry_httpserver import free_port
from tests.support.token_server import TokenServer

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
HTPASSWD_USERS = {"alice": "alice-pass-1"}
START_TIMEOUT = 10.0

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def registry_available() -> bool:
    return os.access(REGISTRY_BINARY, os.X_OK)


def registry_required() -> bool:
    """REQUIRE_REGISTRY=1 (CI, `.ci/run`): a missing binary fails instead of skipping."""
    return os.environ.get("REQUIRE_REGISTRY", "") not in ("", "0", "false", "no")


def skip_or_fail_without_registry() -> None:
    """The one rule for tests that need Debian's docker-registry: skipped on a developer
    machine without it, failed under REQUIRE_REGISTRY=1, so a green CI run cannot hide
    that the registry tests never ran (as REQUIRE_POSTGRES does for PostgreSQL)."""
    if registry_available():
        return
    message = f"Debian's docker-registry is not installed ({REGISTRY_BINARY})"
    if registry_required():
        pytest.fail(
            f"{message} and REQUIRE_REGISTRY=1: apt-get install docker-registry "
            "(or `make test-deps`)",
            pytrace=False,
        )
    pytest.skip(message)


def htpasswd_line(user: str, password: str) -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"{user}:{hashed}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RegistryServer:
    """One `docker-registry` process; `.url`, `.start()`, `.stop()`, `.ca_pem`."""

    def __init__(
        self,
        workdir: Path,
        *,
        htpasswd: Mapping[str, str] | None = None,
        token_server: TokenServer | None = None,
        tls: IssuedCert | None = None,
        ca: TestCA | None = None,
        delete_enabled: bool = True,
        readonly: bool = False,
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.htpasswd = dict(htpasswd or {})
        self.token_server = token_server
        self.tls = tls
        self.ca = ca
        self.delete_enabled = delete_enabled
        self.readonly = readonly
        self.log_path = workdir / "registry.log"
        self.config_path = workdir / "config.yml"
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> str | None:
        return self.ca.cert_pem if self.ca else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _write_config(self) -> None:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "data")},
                "delete": {"enabled": self.delete_enabled},
                "maintenance": {
                    "uploadpurging": {"enabled": False},
                    "readonly": {"enabled": self.readonly},
                },
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": secrets.token_hex(16)},
            "health": {"storagedriver": {"enabled": False}},
        }
        if self.tls is not None:
            cert, key = self.tls.write(self.workdir, "server")
            config["http"]["tls"] = {"certificate": str(cert), "key": str(key)}
        if self.htpasswd:
            path = self.workdir / "htpasswd"
            path.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in self.htpasswd.items()))
            config["auth"] = {"htpasswd": {"realm": "imagerepo-test", "path": str(path)}}
        elif self.token_server is not None:
            bundle = self.workdir / "token-ca.crt"
            bundle.write_text(self.token_server.ca.cert_pem)
            config["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": self.token_server.service,
                    "issuer": self.token_server.issuer,
                    "rootcertbundle": str(bundle),
                }
            }
        self.config_path.write_text(yaml.safe_dump(config))

    def _ssl_context(self) -> ssl.SSLContext | bool:
        if self.ca is None:
            return True
        return ssl.create_default_context(cadata=self.ca.cert_pem)

    def start(self) -> None:
        if self.running:
            return
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:  # bounded poll: the port accepts once it serves
            if self._process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.01)
                continue
            return
        self.stop()
        raise RuntimeError(f"docker-registry did not answer within {START_TIMEOUT} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def client(self, username: str | None = None, password: str | None = None) -> RegistryClient:
        return RegistryClient(self.url, username, password, verify=self._ssl_context())

    def __enter__(self) -> RegistryServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TokenRegistry:
    """A token-auth registry together with its token server; stop/start act on the registry."""

    def __init__(self, registry: RegistryServer, token_server: TokenServer) -> None:
        self.registry = registry
        self.token_server = token_server

    @property
    def url(self) -> str:
        return self.registry.url

    @property
    def realm(self) -> str:
        return self.token_server.realm

    def start(self) -> None:
        self.token_server.start()
        self.registry.start()

    def stop(self) -> None:
        self.registry.stop()

    def close(self) -> None:
        self.registry.stop()
        self.token_server.stop()

    def client(self, username: str | None = None, password: str | None = None) -> RegistryClient:
        return self.registry.client(username, password)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryClient:
    """A tiny synchronous registry client for preparing and checking test content."""

    def __init__(
        self,
        url: str,
        username: str | None,
        password: str | None,
        *,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.verify = verify

    def _basic(self) -> str | None:
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _auth(self, client: httpx.Client, repository: str, actions: str) -> dict[str, str]:
        response = client.get(f"{self.url}/v2/")
        if response.status_code == 200:
            return {}
        challenge = response.headers.get("www-authenticate", "")
        basic = self._basic()
        if challenge.lower().startswith("basic"):
            return {"Authorization": basic} if basic else {}
        params = dict(
            part.split("=", 1) for part in challenge[len("Bearer ") :].replace('"', "").split(",")
        )
        headers = {"Authorization": basic} if basic else {}
        token = client.get(
            params["realm"],
            params={
                "service": params.get("service", ""),
                "scope": f"repository:{repository}:{actions}",
            },
            headers=headers,
        )
        token.raise_for_status()
        return {"Authorization": f"Bearer {token.json()['token']}"}

    def _upload(
        self, client: httpx.Client, repository: str, data: bytes, auth: dict[str, str]
    ) -> str:
        digest = _sha256(data)
        start = client.post(f"{self.url}/v2/{repository}/blobs/uploads/", headers=auth)
        assert start.status_code == 202, start.text
        location = httpx.URL(self.url).join(start.headers["location"])
        done = client.put(
            location.copy_merge_params({"digest": digest}),
            content=data,
            headers={**auth, "Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest

    def push_image(self, repository: str, tag: str = "latest", *, salt: str = "") -> str:
        """Push a config blob, a layer blob and a manifest; return the manifest digest."""
        with httpx.Client(verify=self.verify, timeout=10) as client:
            auth = self._auth(client, repository, "pull,push")
            layer = f"layer of {repository}:{tag} {salt}".encode() * 8
            config = json.dumps(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "config": {"Labels": {"tag": tag, "salt": salt}},
                    "rootfs": {"type": "layers", "diff_ids": [_sha256(layer)]},
                }
            ).encode()
            config_digest = self._upload(client, repository, config, auth)
            layer_digest = self._upload(client, repository, layer, auth)
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MANIFEST_V2,
                    "config": {
                        "mediaType": CONFIG_V1,
                        "size": len(config),
                        "digest": config_digest,
                    },
                    "layers": [
                        {"mediaType": LAYER_GZIP, "size": len(layer), "digest": layer_digest}
                    ],
                }
            ).encode()
            response = client.put(
                f"{self.url}/v2/{repository}/manifests/{tag}",
                content=manifest,
                headers={**auth, "Content-Type": MANIFEST_V2},
            )
            assert response.status_code == 201, response.text
            return response.headers.get("docker-content-digest") or _sha256(manifest)

    def tags(self, repository: str) -> list[str] | None:
        """Tags of a repository; None when the registry says it does not exist."""
        with httpx.Client(verify=self.verify, timeout=10) as client:
            auth = self._auth(client, repository, "pull")
            response = client.get(f"{self.url}/v2/{repository}/tags/list", headers=auth)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return list(response.json().get("tags") or [])

    def manifest_status(self, repository: str, reference: str) -> int:
        with httpx.Client(verify=self.verify, timeout=10) as client:
            auth = self._auth(client, repository, "pull")
            response = client.head(
                f"{self.url}/v2/{repository}/manifests/{reference}",
                headers={**auth, "Accept": MANIFEST_V2},
            )
            return response.status_code

    def upload_count(self, data_dir: Path, repository: str) -> int:
        """How many open uploads the registry keeps for a repository (filesystem driver).

        An open upload has a `startedat` file; a cancelled one is removed, except
        for a hash-state stub that distribution 2.8.2 writes back after the cancel.
        """
        uploads = data_dir / "docker/registry/v2/repositories" / repository / "_uploads"
        if not uploads.exists():
            return 0
        return sum(1 for entry in uploads.iterdir() if (entry / "startedat").exists())
