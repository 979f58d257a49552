"""A small JSON API client shared by the drivers of hosted registries with an API.

Every request goes through the operation's guarded `HttpClient` (URL guard,
the outbound rule, capped bodies), and the token is remembered as a secret so
no message can carry it.  An API answer speaks for the token only if it came
from the origin the token was sent to, so an authenticated request is never
redirected to another origin (GitLab's `PRIVATE-TOKEN` would otherwise have
been carried along, and another host's answer taken as GitLab's).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from registry.drivers import Operation
from registry.errors import ErrorKind, RegistryError, server_text, unexpected_answer
from registry.http import HttpResponse, Service
from registry.ratelimit import rate_limit_error
from registry.target import TlsOptions
from registry.urlguard import RegistryUrl


class JsonApi:
    """One provider API as one token: `request` and `error` for the drivers to build on."""

    def __init__(
        self,
        op: Operation,
        base: RegistryUrl,
        tls: TlsOptions,
        *,
        name: str,
        auth_headers: dict[str, str],
        secret: str | None,
        extra_headers: dict[str, str] | None = None,
        service: Service | None = None,
        prefix: str = "",
    ) -> None:
        self.op = op
        self.base = base
        self.tls = tls
        self.name = name
        self.service = service or Service(f"the {name} API at {base.base}")
        self.prefix = prefix
        self._auth = dict(auth_headers)
        self._extra = {"Accept": "application/json", **(extra_headers or {})}
        if secret:
            op.secrets.add(secret)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        """`path` (below `prefix`) with the token, the API's headers and any `headers`."""
        authorization = self._auth.get("Authorization")
        merged = {
            **self._extra,
            **{k: v for k, v in self._auth.items() if k != "Authorization"},
            **(headers or {}),
        }
        return await self.op.http.request(
            method,
            self.base.endpoint(self.prefix + path),
            tls=self.tls,
            stats=self.op.stats,
            service=self.service,
            authorization=authorization,
            headers=merged,
            params=params,
            json_body=json_body,
            keep_origin=bool(self._auth),
            secret_headers=tuple(self._auth),
        )

    def error(self, response: HttpResponse, what: str) -> RegistryError:
        """Classify a failed answer to `what` (a phrase such as "delete package x")."""
        said = server_message(response)
        if response.status == 401:
            return RegistryError(
                ErrorKind.AUTHENTICATION_FAILED, f"{self.name} rejected the token{said}."
            )
        if response.status == 403:
            return RegistryError(
                ErrorKind.PERMISSION_DENIED, f"{self.name} refused to {what}{said}."
            )
        if response.status == 404:
            return RegistryError(ErrorKind.REPOSITORY_NOT_FOUND, f"{self.name}: {what}: not found.")
        return self.unexpected(response, what, said)

    def unexpected(self, response: HttpResponse, what: str, said: str) -> RegistryError:
        """The last resort of `error`: rate limited (429), or an answer nobody expected."""
        if response.status == 429:
            return rate_limit_error(response.headers, self.service.phrase)
        return unexpected_answer(self.service.capitalised, response.status, what, said)


def server_message(response: HttpResponse) -> str:
    """` (message)` from a JSON error body (`message`, `error_message`, `error`), or ``."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    for key in ("message", "error_message", "detail", "error"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return f" ({server_text(value)})"
    return ""


def json_dict(response: HttpResponse) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def json_list(response: HttpResponse) -> list[dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, dict)]


def parse_expiry(value: object) -> datetime | None:
    """`2026-12-31`, `2026-12-31 12:00:00 UTC` or ISO 8601 -> aware UTC datetime; else None.

    GitLab's `expires_at` is a date (the token stops working at 00:00 UTC that
    day); GitHub's header is `YYYY-MM-DD HH:MM:SS UTC` (or with a `+0000` offset).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S %z"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
