"""The outbound rule: a saved credential never reaches a host it was not saved for.

Every request of an operation goes through `HttpClient.request`, and through
this rule before each hop leaves (see `docs/security.md`, "The outbound rule"):

- an operation *binds* each credential it may use to the origins
  (`scheme://host[:port]`) it may go to: a saved entry's account to its pins
  (the registry and token realm origins of its last passing test) plus the
  provider endpoints the bot's own configuration names (Docker Hub's or
  GitHub's API, Entra ID, Google's API); a registered tool's account to the
  tool's URL; credentials minted from a saved one (cloud types) inherit its
  origins.  An entry without pins (a form's values, an entry saved before
  pins) is not restricted here, as before (trust on first use);
- before any hop is sent, `check` looks for every bound credential in the
  request (header values, URL and body, in the spellings a credential takes
  there: plain, inside a Basic header, URL- or JSON-escaped) and refuses
  (ORIGIN_CHANGED) a request that would carry one to another origin, so no
  byte of it leaves;
- on a redirect to another origin `strip` drops every credential-bearing
  header: `Authorization`, `PRIVATE-TOKEN`, `Cookie` and the like by name, any
  header a driver marks secret, and any header whose value holds a secret the
  operation knows (httpx itself would only drop `Authorization`).

The rule only sees what goes through the bot's HTTP client; the AWS SDK (ECR)
signs its own requests and never sends the secret key itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import httpx

from registry.errors import ErrorKind, RegistryError
from registry.target import Credentials
from registry.urlguard import origin_of

# Headers that carry a credential whatever their value: dropped on every redirect to
# another origin.  Drivers may mark more (`secret_headers` of `HttpClient.request`).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "private-token",  # GitLab personal/project/group access tokens
        "job-token",  # GitLab CI job tokens
        "deploy-token",
        "cookie",
        "x-registry-auth",
        "x-api-key",
        "x-auth-token",
    }
)
_MIN_FORM = 3


def carried_forms(secret: str, username: str | None = None) -> frozenset[str]:
    """The spellings of `secret` in a request: plain, in a Basic header (with `username`),
    URL-encoded (a query or a form body) and JSON-escaped (a JSON body)."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    if username is not None:
        forms.add(base64.b64encode(f"{username}:{secret}".encode()).decode("ascii"))
    return frozenset(f for f in forms if len(f) >= _MIN_FORM)


@dataclass(frozen=True)
class Binding:
    """One credential (its spellings) and the only origins it may be sent to."""

    forms: frozenset[str]
    origins: frozenset[str]
    what: str
    advice: str

    def carried_by(self, url: str, headers: Mapping[str, str], body: bytes | None) -> bool:
        for form in self.forms:
            if form in url or any(form in value for value in headers.values()):
                return True
            if body and form.encode() in body:
                return True
        return False


class OutboundRule:
    """The origins each credential of one operation may reach, checked before every hop.

    `known` is the operation's set of secrets (passwords, tokens from realms and
    APIs, Basic forms); it grows while the operation runs, and a header holding
    any of them is dropped on a cross-origin redirect even if it is not bound.
    """

    def __init__(self, known: set[str] | None = None) -> None:
        self.known: set[str] = known if known is not None else set()
        self._bindings: list[Binding] = []

    def bind(
        self,
        credentials: Credentials | None,
        origins: Iterable[str | None] | None,
        *,
        what: str = "This entry's password or token",
        advice: str = "Enter the password again (Change account) to use it there.",
    ) -> None:
        """Allow `credentials` to go only to `origins` (None: anywhere, trust on first use)."""
        if credentials is None or origins is None:
            return
        allowed = frozenset(origin for origin in origins if origin)
        forms = carried_forms(credentials.secret, credentials.username)
        self._bindings.append(Binding(forms, allowed, what, advice))

    def check(
        self,
        url: httpx.URL,
        headers: Mapping[str, str],
        body: bytes | None,
        phrase: str,
    ) -> None:
        """Refuse (ORIGIN_CHANGED) a request carrying a credential to an origin it was not
        bound to; `phrase` names the service for the message.  Nothing secret is named."""
        origin = origin_of(url)
        text = str(url)
        for binding in self._bindings:
            if origin in binding.origins or not binding.carried_by(text, headers, body):
                continue
            saved_for = " and ".join(sorted(binding.origins)) or "no origin"
            where = phrase if origin in phrase else f"{phrase} at {origin}"
            raise RegistryError(
                ErrorKind.ORIGIN_CHANGED,
                f"{binding.what} was saved for {saved_for}; it is not sent to {where}, "
                f"another origin. {binding.advice}",
            )

    def holds_secret(self, value: str | bytes | None) -> bool:
        """Whether `value` (a header value or a body) holds a secret the operation knows."""
        if not value:
            return False
        if isinstance(value, bytes):
            return any(binding.carried_by("", {}, value) for binding in self._bindings) or any(
                len(s) >= _MIN_FORM and s.encode() in value for s in self.known
            )
        return any(binding.carried_by(value, {}, None) for binding in self._bindings) or any(
            len(s) >= _MIN_FORM and s in value for s in self.known
        )


def is_secret_header(
    name: str, value: str, marked: Iterable[str] = (), rule: OutboundRule | None = None
) -> bool:
    """Whether a header carries a credential: by name, marked by the driver, or by value."""
    lowered = name.lower()
    if lowered in SECRET_HEADERS or lowered in {m.lower() for m in marked}:
        return True
    return rule is not None and rule.holds_secret(value)


def strip_secret_headers(
    headers: Mapping[str, str], marked: Iterable[str] = (), rule: OutboundRule | None = None
) -> dict[str, str]:
    """`headers` without any credential-bearing one (for a hop to another origin)."""
    marked = tuple(marked)
    return {k: v for k, v in headers.items() if not is_secret_header(k, v, marked, rule)}
