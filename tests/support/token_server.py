"""A Docker registry token server for tests (distribution's `docs/spec/auth/token.md`).

It checks HTTP Basic credentials, grants the intersection of the requested
actions and the user's rights (silently, like real token servers), for every
`scope` parameter of the request (a client may ask for many repositories at
once), and signs
an ES256 JWT whose `x5c` header carries a certificate issued by the test CA,
which the registry is configured to trust (`auth.token.rootcertbundle`).

Knobs for failure tests: `rate_limited_for(seconds)` answers 429 with Docker
Hub's headers, `strict_push` refuses outright when push is asked of an account
that may not push (Docker Hub's read-only tokens), and `before_token` runs a
callback before answering (e.g. to stop the registry in the middle of a test).
"""

from __future__ import annotations

import base64
import fnmatch
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt

from tests.support.certs import TestCA
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer

GrantFn = Callable[[str | None, str, set[str]], set[str]]


@dataclass
class TokenUser:
    password: str
    grants: dict[str, set[str]] = field(default_factory=dict)  # repository glob -> actions
    # more passwords the same login takes (Quay's `$oauthtoken` with any OAuth token)
    other_passwords: frozenset[str] = frozenset()


def _basic_user(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return ("", "")
    user, _, password = raw.partition(":")
    return user, password


def _unauthorized(message: str) -> Response:
    return Response.json(
        401,
        {"errors": [{"code": "UNAUTHORIZED", "message": message}]},
        [("WWW-Authenticate", 'Basic realm="token"')],
    )


class TokenServer:
    """Serves `GET /token`; `.realm` is the URL to configure in the registry."""

    def __init__(
        self,
        ca: TestCA,
        *,
        users: dict[str, TokenUser],
        service: str = "test-registry",
        issuer: str = "imagerepo-test-issuer",
        anonymous: dict[str, set[str]] | None = None,
        grant: GrantFn | None = None,
        strict_push: bool = False,
        lifetime: int = 300,
    ) -> None:
        self.ca = ca
        self.signer = ca.issue_signer()
        self.users = users
        self.service = service
        self.issuer = issuer
        self.anonymous = anonymous or {}
        self.grant = grant
        self.strict_push = strict_push
        self.lifetime = lifetime
        self.rate_limited_until: float | None = None
        self.before_token: Callable[[], None] | None = None
        self.issued = 0
        # Where the registry tells clients to ask (`realm`): this server's own URL unless
        # something stands in front of it (the re-check bench puts a latency proxy there).
        self.public_url: str | None = None
        self._server = ThreadedHttpServer(self._handle)

    # -- lifecycle ----------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def realm(self) -> str:
        return f"{self.public_url or self._server.url}/token"

    @property
    def requests(self) -> list[Request]:
        return self._server.requests

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def rate_limited_for(self, seconds: float) -> None:
        self.rate_limited_until = time.time() + seconds

    # -- protocol -----------------------------------------------------------

    def _rights(self, user: str | None, repository: str) -> set[str]:
        grants = self.anonymous if user is None else self.users[user].grants
        rights: set[str] = set()
        for pattern, actions in grants.items():
            if fnmatch.fnmatchcase(repository, pattern):
                rights |= actions
        return rights

    def _handle(self, request: Request) -> Response:
        if request.raw_path != "/token":
            return Response.text(404, "not found")
        if request.method != "GET":
            return Response.text(404, "use GET")  # like servers without the OAuth2 POST variant
        if self.rate_limited_until is not None and time.time() < self.rate_limited_until:
            retry = max(1, int(self.rate_limited_until - time.time()))
            return Response.json(
                429,
                {"errors": [{"code": "TOOMANYREQUESTS", "message": "rate limit exceeded"}]},
                [
                    ("ratelimit-limit", "100;w=21600"),
                    ("ratelimit-remaining", "0;w=21600"),
                    ("Retry-After", str(retry)),
                ],
            )
        if request.arg("service") != self.service:
            return Response.json(400, {"details": "unknown service"})
        user: str | None = None
        basic = _basic_user(request)
        if basic is not None:
            name, password = basic
            known = self.users.get(name)
            if known is None or password not in {known.password, *known.other_passwords}:
                return _unauthorized("incorrect username or password")
            user = name
        # distribution docs/spec/auth/token.md ("Requesting a Token"): `scope` "should be
        # specified multiple times if there is more than one scope entry", and the server
        # "will take the intersection of the set of requested actions on each resource and
        # the set of actions that the client has in fact been granted. If the client only
        # has a subset of the requested access it must not be considered an error". So:
        # one `access` entry per scope, possibly with no actions; never a refusal (except
        # in `strict_push` mode, which copies Docker Hub's read-only tokens).
        access = []
        for scope in request.query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions_text = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            requested = {a for a in actions_text.split(",") if a}
            if self.grant is not None:
                granted = self.grant(user, name, requested) & requested
            else:
                granted = requested & self._rights(user, name)
            if (
                self.strict_push
                and user is not None
                and "push" in requested
                and "push" not in granted
            ):
                return _unauthorized("access token has insufficient scopes")
            access.append({"type": "repository", "name": name, "actions": sorted(granted)})
        if self.before_token is not None:
            self.before_token()
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + self.lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        headers = {"x5c": [base64.b64encode(self.signer.cert_der).decode()]}
        token = jwt.encode(claims, self.signer.key, algorithm="ES256", headers=headers)
        self.issued += 1
        return Response.json(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": self.lifetime,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            },
        )


def default_token_users() -> dict[str, TokenUser]:
    """`pusher` pull+push, `puller` pull only, `admin` everything, `outsider` only other/*."""
    return {
        "pusher": TokenUser("pusher-pass-1", {"*": {"pull", "push"}}),
        "puller": TokenUser("puller-pass-1", {"*": {"pull"}}),
        "admin": TokenUser("admin-pass-1", {"*": {"pull", "push", "delete"}}),
        "outsider": TokenUser("outsider-pass-1", {"other/*": {"pull"}}),
    }
