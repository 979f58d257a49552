"""OCI Distribution (Docker Registry HTTP API v2) client for one operation.

An `OciSession` talks to one registry with one set of credentials: it pings
`/v2/`, follows the challenge (Basic, or Bearer with a token from the realm),
proves pull (tags list) and push (start a blob upload, then cancel it), and
deletes a repository as the spec allows (every manifest by digest).  Each
answer is classified into an `ErrorKind` with a message naming what failed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from registry import pass_cache
from registry.auth import (
    Challenge,
    Token,
    TokenCache,
    TokenKey,
    parse_token_response,
    parse_www_authenticate,
    repository_scope,
    secret_fingerprint,
    select_challenge,
)
from registry.config import IPNetwork
from registry.errors import ErrorKind, RegistryError, secret_forms, server_text
from registry.http import HttpClient, HttpResponse, Service, Stats, confirms_deletion
from registry.ratelimit import rate_limit_error
from registry.target import Credentials, OriginPins, TlsOptions
from registry.urlguard import RegistryUrl, origin_of

# The OCI distribution spec's repository name grammar (distribution/reference): the one
# rule every layer uses (the form's field check asks `is_repository_name`).
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
MAX_REPOSITORY_NAME = 255
_LINK_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_MAX_TAG_PAGES = 100
# Answers to a request made with a re-check pass's shared token that mean "not this
# token" (401 insufficient_scope, 403 DENIED, or a header too large for a proxy):
# the request is made again with a token for that repository alone.
_NOT_ENOUGH = frozenset({400, 401, 403, 431})
_TAG_PAGE = 100
# Deleting reads every tag (then one manifest request per tag): a repository with
# more tags than this is refused before anything is deleted, and a hostile page
# of 400,000 tags costs at most this many set insertions.
MAX_TAGS = 10_000


def is_repository_name(name: str) -> bool:
    """Whether `name` is a repository path the OCI distribution spec allows."""
    return len(name) <= MAX_REPOSITORY_NAME and REPOSITORY_NAME.match(name) is not None


def check_repository_name(name: str) -> str:
    """Return the name if it is a valid repository path, else raise INVALID_REPOSITORY."""
    clean = name.strip().strip("/")
    if not clean:
        raise RegistryError(ErrorKind.INVALID_REPOSITORY, "The repository name is empty.")
    if not is_repository_name(clean):
        hint = " (names are lower case)" if clean.lower() != clean else ""
        raise RegistryError(
            ErrorKind.INVALID_REPOSITORY,
            f"{clean[:80]!r} is not a valid repository name{hint}: use lower-case letters, "
            "digits and . _ - separated by /.",
        )
    return clean


def namespaced(name: str, missing: str) -> str:
    """A valid repository name with a namespace part (`ns/name[/more]`), else
    INVALID_REPOSITORY: `missing` with `{name}` standing for the name given."""
    clean = check_repository_name(name)
    if "/" not in clean:
        raise RegistryError(ErrorKind.INVALID_REPOSITORY, missing.format(name=repr(clean)))
    return clean


def login_error(
    service: Service,
    credentials: Credentials | None,
    needs: str = "a username and password",
    codes: str = "",
) -> RegistryError:
    """A 401: no login was given (the service requires what it `needs`), or the username
    or password was wrong."""
    if credentials is None:
        return RegistryError(
            ErrorKind.AUTHENTICATION_FAILED, f"{service.capitalised} requires {needs}."
        )
    return RegistryError(
        ErrorKind.AUTHENTICATION_FAILED,
        f"{service.capitalised} rejected the username or password for "
        f"{credentials.username}{codes}.",
    )


def error_codes(response: HttpResponse) -> list[tuple[str, str]]:
    """`(code, message)` pairs from a registry error body `{"errors": [...]}`."""
    try:
        data = response.json()
    except ValueError:
        return []
    errors = data.get("errors") if isinstance(data, dict) else None
    out: list[tuple[str, str]] = []
    if isinstance(errors, list):
        for item in errors[:5]:
            if isinstance(item, dict):
                out.append((str(item.get("code", "")), str(item.get("message", ""))))
    return out


def describe_codes(response: HttpResponse) -> str:
    codes = error_codes(response)
    if not codes:
        return ""
    code, message = codes[0]
    return f" ({server_text(f'{code}: {message}' if message else code)})"


@dataclass(frozen=True)
class Ping:
    """How the registry asked us to authenticate at `/v2/`."""

    scheme: str
    challenge: Challenge | None = None

    @property
    def realm(self) -> str | None:
        return self.challenge.realm if self.challenge else None


@dataclass(frozen=True)
class Grant:
    """The Authorization header for a repository scope (None: anonymous)."""

    authorization: str | None
    cached: bool = False
    push_refused: bool = False
    detail: str = ""
    actions: tuple[str, ...] = ()
    shared: bool = False  # a re-check pass's token for several repositories (pass_cache)


class OciSession:
    """One operation against one registry with one set of credentials."""

    def __init__(
        self,
        http: HttpClient,
        base: RegistryUrl,
        *,
        tls: TlsOptions,
        credentials: Credentials | None,
        tokens: TokenCache,
        stats: Stats,
        label: str = "the registry",
        secrets: set[str] | None = None,
        pins: OriginPins | None = None,
    ) -> None:
        self.http = http
        self.pins = pins
        self.realm_origin: str | None = None  # the token service's origin, once known
        self._networks: tuple[IPNetwork, ...] | None = None
        self.base = base
        self.tls = tls
        self.credentials = credentials
        self.tokens = tokens
        self.stats = stats
        self.service = Service(f"{label} at {base.base}")
        self.secrets: set[str] = secrets if secrets is not None else set()
        if credentials is not None:
            self.secrets.update(secret_forms(credentials.secret, credentials.username))
        self._ping: Ping | None = None
        self._late_grant: Grant | None = None

    # -- plumbing -----------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        *,
        service: Service | None = None,
        authorization: str | None = None,
        headers: dict[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        content: bytes | None = None,
        keep_origin: bool = False,
        handed: bool = False,
        stats: Stats | None = None,
    ) -> HttpResponse:
        """`handed`: the URL came from a server's answer (a realm, an upload Location),
        so it may reach only the allowed internal networks the registry is in. `stats`:
        where the round trip is counted (a re-check pass's shared request: the pass's).
        In a re-check pass, a registry found gone is told to the pass (`unreachable`)."""
        try:
            return await self.http.request(
                method,
                url,
                tls=self.tls,
                stats=stats or self.stats,
                service=service or self.service,
                authorization=authorization,
                headers=headers,
                params=params,
                content=content,
                keep_origin=keep_origin,
                networks=await self._own_networks() if handed else None,
            )
        except RegistryError as error:
            shared = pass_cache.current()
            if shared is not None and service is None:  # the registry's own request
                shared.unreachable(self._ping_key(), error)
            raise

    async def _own_networks(self) -> tuple[IPNetwork, ...]:
        if self._networks is None:
            self._networks = await self.http.networks_of(httpx.URL(self.base.base))
        return self._networks

    def _who(self) -> str:
        if self.credentials is None:
            return "anonymous access"
        return f"user {self.credentials.username}"

    def _basic(self) -> str:
        assert self.credentials is not None
        raw = f"{self.credentials.username}:{self.credentials.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _server_error(
        self, response: HttpResponse, service: Service | None = None
    ) -> RegistryError:
        who = service or self.service
        if response.status == 429:
            return rate_limit_error(response.headers, who.phrase)
        return RegistryError(
            ErrorKind.REGISTRY_ERROR,
            f"{who.capitalised} answered HTTP {response.status}{describe_codes(response)}.",
        )

    # -- ping ---------------------------------------------------------------

    async def ping(self) -> Ping:
        """`GET /v2/`: prove this is a registry API and learn the auth scheme; in a
        re-check pass, asked once per registry and shared (`pass_cache`)."""
        shared = pass_cache.current()
        if shared is None:
            return await self._ask_ping(self.stats)
        self._ping = await shared.ping(self._ping_key(), self._ask_ping)
        return self._ping

    def _ping_key(self) -> pass_cache.PingKey:
        return pass_cache.PingKey(
            self.base.base, self.tls, self.credentials is not None, self.service.phrase
        )

    async def _ask_ping(self, stats: Stats) -> Ping:
        url = self.base.endpoint("/v2/")
        # With credentials, this answer decides where the password goes: a redirect
        # to another origin is refused, never trusted.
        response = await self._request(
            "GET",
            url,
            headers={"Accept": "application/json"},
            keep_origin=self.credentials is not None,
            stats=stats,
        )
        api_version = response.headers.get("docker-distribution-api-version", "")
        if response.status == 200:
            if api_version.startswith("registry/2") or _looks_like_json(response):
                self._ping = Ping("none")
                return self._ping
            what = "a web page" if "html" in response.content_type else "something else"
            raise RegistryError(
                ErrorKind.NOT_A_REGISTRY,
                f"{url} answered with {what}, not the registry API: {self.base.base} is not an "
                "OCI/Docker v2 registry.",
            )
        if response.status == 401:
            challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
            chosen = select_challenge(challenges)
            if chosen is not None:
                self._ping = Ping(chosen.scheme, chosen)
                return self._ping
            if challenges:
                schemes = ", ".join(sorted({c.scheme for c in challenges}))
                raise RegistryError(
                    ErrorKind.AUTHENTICATION_FAILED,
                    f"{self.service.capitalised} asks for {schemes} authentication; only Basic "
                    "and Bearer tokens are supported.",
                )
            raise RegistryError(
                ErrorKind.NOT_A_REGISTRY,
                f"{url} answered 401 without saying how to authenticate: {self.base.base} does "
                "not look like a registry API.",
            )
        if response.status == 400 and b"HTTP request to an HTTPS server" in response.body:
            raise RegistryError(
                ErrorKind.TLS_ERROR,
                f"{self.base.netloc} expects TLS: use https:// instead of http://.",
            )
        if response.status == 403:
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"{self.service.capitalised} refused access to /v2/ "
                f"(HTTP 403){describe_codes(response)}.",
            )
        if response.status == 429 or response.status >= 500:
            raise self._server_error(response)
        raise RegistryError(
            ErrorKind.NOT_A_REGISTRY,
            f"No registry API at {self.base.base}: {url} answered HTTP {response.status}.",
        )

    # -- authentication -----------------------------------------------------

    async def authorize(
        self, repository: str, actions: Sequence[str], *, alone: bool = False
    ) -> Grant:
        """The Authorization header for `repository` with `actions` (pull, push, delete).

        For Bearer this fetches (or reuses) a token.  A token server may refuse
        outright when push is asked of a read-only account (Docker Hub does):
        then we retry with the other actions and mark push as refused.  `alone`:
        never the re-check pass's shared token (it was not enough for this one).
        """
        ping = self._ping or await self.ping()
        actions = tuple(actions)
        if ping.scheme == "none":
            return Grant(None, detail="the registry asks for no credentials", actions=actions)
        if ping.scheme == "basic":
            if self.credentials is None:
                raise RegistryError(
                    ErrorKind.AUTHENTICATION_FAILED,
                    f"{self.service.capitalised} requires a username and password (HTTP Basic).",
                )
            return Grant(
                self._basic(), detail=f"HTTP Basic as {self.credentials.username}", actions=actions
            )
        assert ping.challenge is not None
        try:
            return await self._token_grant(ping.challenge, repository, actions, alone=alone)
        except RegistryError as exc:
            fallback = [a for a in actions if a != "push"]
            if (
                "push" in actions
                and fallback
                and self.credentials is not None
                and exc.kind in (ErrorKind.AUTHENTICATION_FAILED, ErrorKind.PERMISSION_DENIED)
            ):
                grant = await self._token_grant(ping.challenge, repository, fallback, alone=True)
                return Grant(
                    grant.authorization,
                    cached=grant.cached,
                    push_refused=True,
                    detail=grant.detail,
                    actions=tuple(actions),
                )
            raise

    def _realm(self, challenge: Challenge) -> httpx.URL:
        realm = challenge.realm or ""
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR,
                f"{self.service.capitalised} names an invalid token realm {server_text(realm)!r}.",
            )
        if url.userinfo:
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR,
                f"{self.service.capitalised} names a token realm with credentials in it.",
            )
        if self.base.scheme == "https" and url.scheme == "http" and self.credentials is not None:
            raise RegistryError(
                ErrorKind.REFUSED_TARGET,
                f"The token service {url} uses plain http while the registry uses https; "
                "refusing to send the password unencrypted.",
            )
        self._check_realm_pin(url)
        return url

    def _check_realm_pin(self, realm: httpx.URL) -> None:
        """Refuse a token realm other than the one pinned when the entry was saved."""
        origin = origin_of(realm)
        self.realm_origin = origin
        pins = self.pins
        if pins is None or self.credentials is None or origin in (pins.realm, pins.registry):
            return
        raise RegistryError(
            ErrorKind.ORIGIN_CHANGED,
            f"{self.service.capitalised} now asks for the password to be sent to the token "
            f"service at {origin}, not to {pins.realm or pins.registry} as when this entry was "
            "saved; the saved password was not sent. If the change is expected, enter the "
            "password again (Change account).",
        )

    async def _token_grant(
        self, challenge: Challenge, repository: str, actions: Sequence[str], *, alone: bool = False
    ) -> Grant:
        realm = self._realm(challenge)
        service_name = challenge.service or ""
        scope = repository_scope(repository, actions)
        fingerprint = secret_fingerprint(self.credentials)
        key = TokenKey(
            realm=str(realm),
            service=service_name,
            username=self.credentials.username if self.credentials else "",
            fingerprint=fingerprint,
            scopes=(scope,),
        )
        who = self.credentials.username if self.credentials else "anonymous"
        cached = self.tokens.get(key)
        if cached is not None:
            self.secrets.add(cached)
            return Grant(
                f"Bearer {cached}",
                cached=True,
                detail=f"token for {who} (cached)",
                actions=tuple(actions),
            )
        shared = None if alone else pass_cache.current()
        if shared is not None:
            book = pass_cache.BookKey(
                pass_cache.CredentialKey(self.base.base, self.tls, fingerprint),
                str(realm),
                service_name,
                origin_of(realm),
            )

            async def fetch(scopes: list[str], stats: Stats) -> Token:
                return await self._ask_token(realm, service_name, scopes, stats)

            value = await shared.token(book, scope, fetch)
            if value is not None:
                self.secrets.add(value)
                return Grant(
                    f"Bearer {value}",
                    detail=f"token for {who} from {realm} (one request for this re-check's "
                    "repositories)",
                    actions=tuple(actions),
                    shared=True,
                )
        token = await self._ask_token(realm, service_name, [scope], self.stats)
        self.secrets.add(token.value)
        self.tokens.put(key, token)
        return Grant(
            f"Bearer {token.value}",
            detail=f"token for {who} from {realm}",
            actions=tuple(actions),
        )

    async def _ask_token(
        self, realm: httpx.URL, service_name: str, scopes: list[str], stats: Stats
    ) -> Token:
        """One token request for `scopes` (one `scope` parameter each, token.md)."""
        token_service = Service(f"the token service at {realm}")
        params = [("service", service_name)] if service_name else []
        params.extend(("scope", scope) for scope in scopes)
        response = await self._request(
            "GET",
            str(realm),
            service=token_service,
            authorization=self._basic() if self.credentials else None,
            headers={"Accept": "application/json"},
            params=params,
            handed=True,
            stats=stats,
        )
        if response.status == 200:
            try:
                token = parse_token_response(response.json())
            except ValueError:
                token = None
            if token is None:
                raise RegistryError(
                    ErrorKind.REGISTRY_ERROR,
                    f"{token_service.capitalised} answered without a token.",
                )
            self.secrets.add(token.value)
            return token
        if response.status == 401:
            raise login_error(token_service, self.credentials, codes=describe_codes(response))
        if response.status == 403:
            asked = scopes[0] if len(scopes) == 1 else f"{len(scopes)} repositories"
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"{token_service.capitalised} refused a token for "
                f"{asked}{describe_codes(response)}.",
            )
        if response.status == 404:
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR,
                f"{token_service.capitalised} answered HTTP 404: the registry's token realm "
                "looks misconfigured.",
            )
        raise self._server_error(response, token_service)

    # -- access checks ------------------------------------------------------

    def access_error(self, response: HttpResponse, repository: str, action: str) -> RegistryError:
        """Classify a failed answer to a request on `repository` needing `action`."""
        status = response.status
        codes = {code for code, _ in error_codes(response)}
        if status == 401:
            challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
            scheme = self._ping.scheme if self._ping else "none"
            if any(c.error == "invalid_token" for c in challenges):
                return RegistryError(
                    ErrorKind.AUTHENTICATION_FAILED,
                    f"{self.service.capitalised} did not accept the token from "
                    f"{self._ping_realm()}.",
                )
            if (
                scheme == "basic"
                and not any(c.insufficient_scope for c in challenges)
                and "DENIED" not in codes
            ):
                return login_error(self.service, self.credentials)
            return self._denied(repository, action)
        if status == 403:
            return self._denied(repository, action, describe_codes(response))
        if status == 404:
            return RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND,
                f"Repository {repository} does not exist at {self.base.base}.",
            )
        if status == 405 and action == "push":
            return RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"{self.service.capitalised} does not accept pushes to {repository} "
                f"(HTTP 405{describe_codes(response)}; read-only or a pull-through cache).",
            )
        # distribution-spec spec.md, "Deleting tags"/"Deleting Manifests": with deletion
        # disabled a registry answers 400 or 405; distribution's code for it is UNSUPPORTED
        # (registry/api/errcode/register.go).  A bare 400 may be any bad request, so 400
        # counts only with that code.
        if action == "delete" and (status == 405 or (status == 400 and "UNSUPPORTED" in codes)):
            return RegistryError(
                ErrorKind.DELETE_UNSUPPORTED,
                f"{self.service.capitalised} has deletion disabled (HTTP {status}"
                f"{' UNSUPPORTED' if 'UNSUPPORTED' in codes else ''}); nothing was deleted. "
                "Its admin must enable storage delete, or remove the entry from the list only.",
            )
        if status == 429 or status >= 500:
            return self._server_error(response)
        if 200 <= status < 300:
            return RegistryError(
                ErrorKind.REGISTRY_ERROR,
                f"{self.service.capitalised} answered HTTP {status} to a {action} request on "
                f"{repository} with a body that does not confirm it (a web page?); it is not "
                "counted as done.",
            )
        return RegistryError(
            ErrorKind.REGISTRY_ERROR,
            f"{self.service.capitalised} answered HTTP {status} to a {action} request on "
            f"{repository}{describe_codes(response)}.",
        )

    def _ping_realm(self) -> str:
        realm = self._ping.realm if self._ping else None
        return realm or "its token service"

    def _denied(self, repository: str, action: str, extra: str = "") -> RegistryError:
        verb = {"pull": "pull from", "push": "push to", "delete": "delete in"}.get(action, action)
        return RegistryError(
            ErrorKind.PERMISSION_DENIED,
            f"Permission denied: {self._who()} may not {verb} {repository}{extra}.",
        )

    async def _authorized(
        self,
        method: str,
        url: str,
        repository: str,
        grant: Grant,
        *,
        headers: dict[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        content: bytes | None = None,
    ) -> tuple[HttpResponse, Grant]:
        """Send with the grant; if `/v2/` was open but the repository asks for credentials,
        follow that challenge once and keep the new grant for the rest of the session."""
        grant = self._late_grant or grant
        response = await self._request(
            method, url, authorization=grant.authorization, headers=headers, params=params,
            content=content,
        )  # fmt: skip
        if grant.shared and response.status in _NOT_ENOUGH:
            # The pass's shared token did not cover this repository (the realm grants
            # the intersection, silently): ask for this one alone, so a forbidden
            # repository gets its own answer and cannot fail the others.
            grant = await self.authorize(repository, grant.actions or ("pull",), alone=True)
            response = await self._request(
                method, url, authorization=grant.authorization, headers=headers, params=params,
                content=content,
            )  # fmt: skip
        if response.status != 401 or self._ping is None or self._ping.scheme != "none":
            return response, grant
        chosen = select_challenge(
            parse_www_authenticate(response.headers.get_list("www-authenticate"))
        )
        if chosen is None:
            return response, grant
        self._ping = Ping(chosen.scheme, chosen)
        grant = await self.authorize(repository, grant.actions or ("pull",))
        self._late_grant = grant
        response = await self._request(
            method, url, authorization=grant.authorization, headers=headers, params=params,
            content=content,
        )  # fmt: skip
        return response, grant

    async def _one_tag(self, repository: str, grant: Grant) -> tuple[HttpResponse, Grant]:
        """A one-entry tags list: the cheapest read that proves the repository is there
        (it spends no pull on Docker Hub)."""
        return await self._authorized(
            "GET",
            self.base.endpoint(f"/v2/{repository}/tags/list"),
            repository,
            grant,
            headers={"Accept": "application/json"},
            params=[("n", "1")],
        )

    async def check_pull(self, repository: str, grant: Grant) -> str:
        """Prove the repository exists and is readable with a one-entry tags list."""
        response, grant = await self._one_tag(repository, grant)
        if response.status != 200:
            raise self.access_error(response, repository, "pull")
        try:
            data = response.json()
        except ValueError:
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR,
                f"{self.service.capitalised} answered the tags list of {repository} with non-JSON.",
            ) from None
        tags = data.get("tags") if isinstance(data, dict) else None
        late = " with credentials the repository asked for" if self._late_grant else ""
        if isinstance(tags, list) and tags:
            return f"{repository} exists and can be read{late} (tags listed)"
        return f"{repository} exists and can be read{late} (no tags yet)"

    async def check_push(self, repository: str, grant: Grant) -> str:
        """Prove push by starting a blob upload, then cancel it so nothing stays behind."""
        if grant.push_refused:
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"Permission denied: the token service refused push access to {repository} "
                f"for {self.credentials.username if self.credentials else 'anonymous access'} "
                "(a read-only account or token).",
            )
        url = self.base.endpoint(f"/v2/{repository}/blobs/uploads/")
        response, grant = await self._authorized("POST", url, repository, grant, content=b"")
        if response.status == 202:
            location = response.headers.get("location")
            if not location:
                raise RegistryError(
                    ErrorKind.REGISTRY_ERROR,
                    f"{self.service.capitalised} started an upload but sent no Location.",
                )
            cancelled = await self._cancel_upload(httpx.URL(response.url).join(location), grant)
            return f"push allowed: started an upload and {cancelled}"
        if response.status == 201:
            return "push allowed"
        raise self.access_error(response, repository, "push")

    async def _cancel_upload(self, location: httpx.URL, grant: Grant) -> str:
        """Best effort: the registry purges abandoned uploads itself, so failures are fine."""
        if location.scheme not in ("http", "https"):
            return "left it for the registry to purge"
        same_origin = (
            location.scheme,
            location.host,
            location.port or (443 if location.scheme == "https" else 80),
        ) == self.base.origin
        try:
            response = await self._request(
                "DELETE",
                str(location),
                authorization=grant.authorization if same_origin else None,
                handed=True,
            )
        except RegistryError:
            return "could not cancel it (the registry purges abandoned uploads)"
        if response.status in (200, 202, 204, 404):
            return "cancelled it"
        return (
            f"could not cancel it (HTTP {response.status}; cancelling needs delete rights), "
            "the registry purges abandoned uploads"
        )

    # -- deletion -----------------------------------------------------------

    async def list_tags(self, repository: str, grant: Grant) -> list[str]:
        """Every tag, following same-origin `Link: rel=next` pages (bounded: at most
        `_MAX_TAG_PAGES` pages and `MAX_TAGS` tags, else UNSUPPORTED_OPERATION).

        Deleting trusts this list, so anything that is not a complete, readable tag list
        (a body cut at the size cap, a web page, `"tags": null`, a next page elsewhere)
        fails with PROTOCOL before anything is deleted, rather than reading as "no tags"."""
        url: str | None = self.base.endpoint(f"/v2/{repository}/tags/list")
        params: list[tuple[str, str]] | None = [("n", str(_TAG_PAGE))]
        tags: dict[str, None] = {}  # a set that keeps the registry's order
        for _page in range(_MAX_TAG_PAGES):
            if url is None:
                break
            response, grant = await self._authorized(
                "GET", url, repository, grant, params=params, headers={"Accept": "application/json"}
            )
            if response.status != 200:
                raise self.access_error(response, repository, "pull")
            for tag in self._tag_page(response, repository):
                tags[tag] = None
                if len(tags) > MAX_TAGS:
                    raise RegistryError(
                        ErrorKind.UNSUPPORTED_OPERATION,
                        f"{repository} has more than {MAX_TAGS:,} tags; nothing was "
                        "deleted. Delete it in the registry itself.",
                    )
            url, params = self._next_page(response), None
        else:
            if url is not None:
                raise RegistryError(
                    ErrorKind.UNSUPPORTED_OPERATION,
                    f"{repository}'s tag list goes on for more than {_MAX_TAG_PAGES} pages; "
                    "nothing was deleted. Delete it in the registry itself.",
                )
        return list(tags)

    def _unreadable(self, repository: str, why: str) -> RegistryError:
        return RegistryError(
            ErrorKind.PROTOCOL,
            f"The registry's tag list of {repository} could not be read ({why}); nothing was "
            "deleted.",
        )

    def _tag_page(self, response: HttpResponse, repository: str) -> list[str]:
        """The tags of one page of a tag list; PROTOCOL unless it is the spec's
        `{"name": ..., "tags": [string, ...]}`."""
        if response.truncated:
            raise self._unreadable(repository, "it is larger than the size limit")
        try:
            data = response.json()
        except ValueError:
            what = "a web page" if "html" in response.content_type else "not JSON"
            raise self._unreadable(repository, f"the answer was {what}") from None
        page = data.get("tags") if isinstance(data, dict) else None
        if not isinstance(page, list):
            raise self._unreadable(repository, "it holds no list of tags")
        if not all(isinstance(tag, str) for tag in page):
            raise self._unreadable(repository, "it lists something other than tag names")
        return page

    def _next_page(self, response: HttpResponse) -> str | None:
        match = _LINK_RE.search(response.headers.get("link", ""))
        if not match:
            return None
        target = httpx.URL(response.url).join(match.group(1))
        port = target.port or (443 if target.scheme == "https" else 80)
        if (target.scheme, target.host, port) != self.base.origin:
            # the rest of the list is not read: deleting what was read would be a guess
            raise RegistryError(
                ErrorKind.PROTOCOL,
                f"The registry's tag list continues at {origin_of(target)}, another origin; "
                "it was not followed, so nothing was deleted.",
            )
        return str(target)

    async def head_manifest(self, repository: str, grant: Grant) -> HttpResponse | None:
        """A `HEAD` on one manifest of `repository` (its first listed tag), for what the
        registry says in the headers (Docker Hub's pull quota); a HEAD is not a pull.
        None when the repository has no tag to ask about."""
        listed, grant = await self._one_tag(repository, grant)
        try:
            tags = listed.json().get("tags") if listed.status == 200 else None
        except (ValueError, AttributeError):
            tags = None
        if not isinstance(tags, list) or not tags or not isinstance(tags[0], str):
            return None
        url = self.base.endpoint(f"/v2/{repository}/manifests/{tags[0]}")
        response, _ = await self._authorized(
            "HEAD", url, repository, grant, headers={"Accept": MANIFEST_TYPES}
        )
        return response

    async def manifest_digest(self, repository: str, reference: str, grant: Grant) -> str | None:
        """The digest a tag points to (None if the tag vanished meanwhile)."""
        url = self.base.endpoint(f"/v2/{repository}/manifests/{reference}")
        headers = {"Accept": MANIFEST_TYPES}
        response, grant = await self._authorized("HEAD", url, repository, grant, headers=headers)
        if response.status == 404:
            return None
        if response.status != 200:
            raise self.access_error(response, repository, "pull")
        digest: str | None = response.headers.get("docker-content-digest")
        if digest:
            return digest
        response, grant = await self._authorized("GET", url, repository, grant, headers=headers)
        if response.status != 200:
            raise self.access_error(response, repository, "pull")
        return "sha256:" + hashlib.sha256(response.body).hexdigest()

    async def delete_repository(self, repository: str) -> int:
        """Delete every tagged manifest by digest; return how many were deleted.

        The spec has no "delete repository".  A registry with deletion
        disabled answers 400 or 405 UNSUPPORTED to the first delete, so nothing is
        deleted and the user is told so.
        """
        grant = await self.authorize(repository, ("pull", "delete"))
        tags = await self.list_tags(repository, grant)
        digests: dict[str, None] = {}
        for tag in tags:
            digest = await self.manifest_digest(repository, tag, grant)
            if digest:
                digests[digest] = None
        deleted = 0
        for digest in digests:
            response, grant = await self._authorized(
                "DELETE",
                self.base.endpoint(f"/v2/{repository}/manifests/{digest}"),
                repository,
                grant,
            )
            if response.status == 404 or confirms_deletion(response):
                deleted += 1
                continue
            error = self.access_error(response, repository, "delete")
            if deleted:
                raise RegistryError(
                    error.kind,
                    f"{error.message} ({deleted} of {len(digests)} manifests were deleted.)",
                )
            raise error
        if tags:
            await self._verify_gone(repository, grant, tags)
        return deleted

    async def _verify_gone(self, repository: str, grant: Grant, tags: list[str]) -> None:
        """Read the tag list again: a registry that accepted every DELETE but still lists
        the tags did not delete them (only what is verified gone counts as deleted)."""
        response, grant = await self._authorized(
            "GET",
            self.base.endpoint(f"/v2/{repository}/tags/list"),
            repository,
            grant,
            params=[("n", str(_TAG_PAGE))],
            headers={"Accept": "application/json"},
        )
        if response.status == 404:
            return  # the repository is gone with its last manifest
        if response.status != 200:
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR,
                f"{self.service.capitalised} accepted the deletion of {repository}, but reading "
                f"its tag list again answered HTTP {response.status}; whether it is gone is "
                "not known, so it is not counted as deleted.",
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        listed = data.get("tags") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(listed, list | None):
            raise RegistryError(
                ErrorKind.PROTOCOL,
                f"{self.service.capitalised} accepted the deletion of {repository}, but its tag "
                "list could not be read again to confirm it, so it is not counted as deleted.",
            )
        wanted = set(tags)
        remaining = [tag for tag in listed or [] if isinstance(tag, str) and tag in wanted]
        if remaining:
            shown = ", ".join(server_text(str(t)) for t in remaining[:3])
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR,
                f"{self.service.capitalised} accepted the deletion of {repository}, but still "
                f"lists {len(remaining)} of its tags ({shown}): they were not deleted.",
            )


def _looks_like_json(response: HttpResponse) -> bool:
    if response.content_type.endswith("json"):
        return True
    return response.body.strip()[:1] in (b"{", b"[")
