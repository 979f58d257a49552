"""The real `imagerepo-bot serve` process, for end-to-end tests.

Starts the console script on a free port with the settings a test gives
(SLACK_API_URL pointing at the Web API stand-in, a SQLite or PostgreSQL
DATABASE_URL, generated Fernet keys), waits for `GET /healthz` with a bounded
poll, captures everything it logs into a file (tests scan it for secrets) and
stops it with SIGTERM (then SIGKILL) at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

import httpx
from cryptography.fernet import Fernet

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command() -> list[str]:
    script = Path(sys.executable).parent / "imagerepo-bot"
    if script.exists():
        return [str(script), "serve"]
    return [
        sys.executable,
        "-c",
        "import sys; from server.cli import main; sys.exit(main(['serve']))",
    ]


class BotProcess:
    """One running bot. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        *,
        slack_api_url: str,
        bot_token: str,
        database_url: str,
        log_path: Path,
        signing_secret: str = SIGNING_SECRET,
        secret_keys: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        metrics_port: bool = False,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.port = free_port()
        self.metrics_host = metrics_host
        # With METRICS_PORT set, /healthz and /metrics answer there only.
        self.metrics_port = free_port() if metrics_port else None
        self.signing_secret = signing_secret
        self.log_path = log_path
        self.secret_keys = secret_keys or Fernet.generate_key().decode()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMAGEREPO_"))},
            "PORT": str(self.port),
            "SLACK_BOT_TOKEN": bot_token,
            "SLACK_SIGNING_SECRET": signing_secret,
            "SLACK_API_URL": slack_api_url,
            "DATABASE_URL": database_url,
            "IMAGEREPO_SECRET_KEYS": self.secret_keys,
            "IMAGEREPO_ALLOWED_NETWORKS": "127.0.0.0/8",
            "IMAGEREPO_RECHECK_INTERVAL": "86400",
            "PYTHONUNBUFFERED": "1",
            **({"METRICS_PORT": str(self.metrics_port)} if self.metrics_port else {}),
            **dict(extra_env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def internal_url(self) -> str:
        """Where /healthz and /metrics answer: the metrics port when there is one."""
        if self.metrics_port:
            return f"http://{self.metrics_host}:{self.metrics_port}"
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    def start(self) -> BotProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file = log_file
        self._process = subprocess.Popen(
            _command(),
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=str(self.log_path.parent),
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                raise RuntimeError(f"imagerepo-bot serve exited with {code}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.internal_url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"no /healthz within {STARTUP_TIMEOUT}s:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        log_file, self._log_file = self._log_file, None
        if log_file is not None:
            log_file.close()  # type: ignore[attr-defined]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def assert_log_free_of(self, secrets: Iterable[str]) -> None:
        text = self.log()
        leaked = [s for s in secrets if s and s in text]
        assert not leaked, f"secrets found in the bot's log: {len(leaked)}"

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
