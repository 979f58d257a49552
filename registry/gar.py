"""Google Artifact Registry: an OAuth access token minted from a service-account JSON key.

Stored: the JSON key (the password; Username `_json_key`, or `_json_key_base64`
with the key base64-encoded, as `docker login` takes it).  Minted: an access
token (about 1 hour) from the key's own `token_uri`, cached until 80 % of its
lifetime; the registry takes it as Basic `oauth2accesstoken:TOKEN`.
google-auth signs the RS256 JWT assertion; the assertion is posted through the
guarded HTTP client, so a key naming an internal `token_uri` is refused like
any internal URL.

Registry URL `https://LOCATION-docker.pkg.dev`, repository
`PROJECT/REPOSITORY/IMAGE`.  Create new is `repositories.create` (docker
format) and delete in IR deletes the image's package, both on the Artifact
Registry API (`IMAGEREPO_GOOGLE_API_URL`).  Both answer a long-running
Operation, not the result ("The returned Operation will finish once the
repository has been created", REST reference of projects.locations.repositories
.create; packages.delete likewise): the outcome is the operation's `done` with
`error` (a google.rpc.Status: failure) or without (success), polled with
`operations.get` (`GET /v1/{name}`) with growing pauses, bounded in time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from registry.drivers import Location, MintingDriver, Operation
from registry.errors import ErrorKind, RegistryError, refusal, server_text, unexpected_answer
from registry.hostedapi import json_dict
from registry.http import HttpResponse, Service, confirms_deletion
from registry.kinds import RegistryType
from registry.minting import Minted, mint_key
from registry.oci import check_repository_name, describe_codes
from registry.results import STEP_PULL, STEP_PUSH
from registry.target import Credentials, RepositoryTarget, TlsOptions
from registry.urlguard import origin_of, parse_url

GAR_HOST = re.compile(r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev$")
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_USER = "oauth2accesstoken"
KEY_USERS = ("_json_key", "_json_key_base64")
MISSING_ROLE = "The service account is missing roles/artifactregistry.{} on the repository."
# Polling a long-running operation: first pause, growth, longest pause, total wait.
POLL_FIRST = 0.25
POLL_FACTOR = 2.0
POLL_LONGEST = 5.0
POLL_BUDGET = 60.0
# google.rpc.Code values an operation's error carries, and what they mean here.
_RPC_KINDS = {
    5: ErrorKind.REPOSITORY_NOT_FOUND,  # NOT_FOUND
    6: ErrorKind.ALREADY_EXISTS,  # ALREADY_EXISTS
    7: ErrorKind.PERMISSION_DENIED,  # PERMISSION_DENIED
    16: ErrorKind.AUTHENTICATION_FAILED,  # UNAUTHENTICATED
}


@dataclass(frozen=True)
class ServiceAccountKey:
    client_email: str
    token_uri: str
    info: dict[str, Any] = field(repr=False)


def parse_key(credentials: Credentials | None) -> ServiceAccountKey:
    """The service-account key of `Password`; a clear message for anything else."""
    if credentials is None:
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED,
            "Google Artifact Registry needs a service account's JSON key as the password.",
        )
    text = credentials.secret.strip()
    if credentials.username == "_json_key_base64" or not text.startswith("{"):
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            text = base64.b64decode(text, validate=True).decode()
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED,
            "The password is not a service-account JSON key (a JSON object with "
            '"type": "service_account"); create one under IAM > Service accounts > Keys.',
        )
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED,
            f"The service-account key lacks {', '.join(missing)}.",
        )
    return ServiceAccountKey(str(info["client_email"]), str(info["token_uri"]), info)


def assertion(key: ServiceAccountKey) -> str:
    """The RS256-signed JWT that google-auth builds for the key's token endpoint."""
    from google.auth import crypt, jwt

    try:
        signer = crypt.RSASigner.from_service_account_info(key.info)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError):
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED,
            "The service-account key's private_key is not a valid RSA key.",
        ) from None
    now = int(time.time())
    payload = {
        "iss": key.client_email,
        "scope": SCOPE,
        "aud": key.token_uri,
        "iat": now,
        "exp": now + 3600,
    }
    token: bytes = jwt.encode(signer, payload)  # type: ignore[no-untyped-call]
    return token.decode()


@dataclass(frozen=True)
class GarPlace:
    location: str | None
    project: str
    repository: str
    image: str


def gar_place(host: str, repository: str) -> GarPlace:
    """Location from `LOCATION-docker.pkg.dev`; project, repository and image from the path."""
    name = check_repository_name(repository)
    parts = name.split("/", 2)
    if len(parts) < 3:
        raise RegistryError(
            ErrorKind.INVALID_REPOSITORY,
            "A Google Artifact Registry image is PROJECT/REPOSITORY/IMAGE, e.g. acme/docker/api.",
        )
    match = GAR_HOST.match(host.lower())
    return GarPlace(match["location"] if match else None, parts[0], parts[1], parts[2])


class GarDriver(MintingDriver):
    type = RegistryType.GAR
    label = "Google Artifact Registry"

    def provider_origins(self) -> frozenset[str]:
        """Google's Artifact Registry API."""
        return frozenset({origin_of(self.config.google_api_url)})

    step_needs = {
        STEP_PULL: MISSING_ROLE.format("reader"),
        STEP_PUSH: MISSING_ROLE.format("writer"),
    }

    def locate(self, target: RepositoryTarget) -> Location:
        base = parse_url(target.registry_url)
        gar_place(base.host, target.repository)
        return Location(base, target.tls, check_repository_name(target.repository))

    async def _mint(self, op: Operation, key: ServiceAccountKey) -> Minted:
        token_url = parse_url(key.token_uri, what="token_uri of the service-account key")
        service = Service(f"Google's token endpoint {token_url.host}")
        body = urlencode({"grant_type": JWT_BEARER, "assertion": assertion(key)}).encode()
        response = await op.http.request(
            "POST",
            key.token_uri,
            tls=TlsOptions(),
            stats=op.stats,
            service=service,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            content=body,
        )
        data = json_dict(response)
        token = data.get("access_token")
        if response.status != 200 or not isinstance(token, str) or not token:
            error = data.get("error_description") or data.get("error") or ""
            said = f": {server_text(str(error))}" if error else ""
            kind = (
                ErrorKind.AUTHENTICATION_FAILED
                if response.status in (400, 401, 403)
                else ErrorKind.REGISTRY_ERROR
            )
            raise RegistryError(
                kind,
                f"Google refused to mint an access token for {key.client_email} "
                f"(HTTP {response.status}{said}).",
            )
        expires_in = data.get("expires_in")
        seconds = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        return Minted(
            Credentials(TOKEN_USER, token),
            self.minting.clock() + timedelta(seconds=seconds),
            how=f"access token minted for {key.client_email}",
        )

    async def _token(self, op: Operation, target: RepositoryTarget) -> Minted:
        key = parse_key(target.credentials)
        op.remember(target.credentials)
        cache_key = mint_key("gar", json.dumps(key.info, sort_keys=True))
        minted = await self.minting.get("gar", cache_key, lambda: self._mint(op, key))
        op.remember(minted.credentials)
        return minted

    async def registry_credentials(
        self, op: Operation, target: RepositoryTarget
    ) -> Credentials | None:
        return op.use_minted(await self._token(op, target))

    async def _api(
        self, op: Operation, target: RepositoryTarget, method: str, path: str, body: Any = None
    ) -> HttpResponse:
        minted = await self._token(op, target)
        base = parse_url(self.config.google_api_url, what="Artifact Registry API URL")
        return await op.http.request(
            method,
            base.endpoint(path),
            tls=TlsOptions(),
            stats=op.stats,
            service=Service(f"the Artifact Registry API at {base.base}"),
            authorization=f"Bearer {minted.credentials.secret}",
            headers={"Accept": "application/json"},
            json_body=body,
        )

    def _where(self, target: RepositoryTarget) -> GarPlace:
        place = gar_place(parse_url(target.registry_url).host, target.repository)
        if place.location is None and self.config.google_location:
            place = replace(place, location=self.config.google_location)
        if place.location is None:
            raise RegistryError(
                ErrorKind.INVALID_URL,
                "Cannot tell the location: use the registry URL https://LOCATION-docker.pkg.dev "
                "(or set IMAGEREPO_GOOGLE_LOCATION).",
            )
        return place

    def _failure(self, response: HttpResponse, what: str, role: str) -> RegistryError:
        denied = (
            f"Artifact Registry refused {what} (HTTP {response.status}): the service "
            f"account needs roles/{role}."
        )
        known = {
            401: (ErrorKind.PERMISSION_DENIED, denied),
            403: (ErrorKind.PERMISSION_DENIED, denied),
            404: (ErrorKind.REPOSITORY_NOT_FOUND, f"Artifact Registry: no {what}."),
            409: (ErrorKind.ALREADY_EXISTS, f"Artifact Registry: {what} exists."),
        }
        return refusal(response.status, known) or unexpected_answer(
            "Artifact Registry", response.status, what, describe_codes(response)
        )

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """An image appears in its Artifact Registry repository on the first push: for an app
        repository, the repository existing (repositories.get) is enough to pass pull."""
        if error.kind is not ErrorKind.REPOSITORY_NOT_FOUND or target.pull_only:
            return error
        try:
            place = self._where(target)
            response = await self._api(
                op,
                target,
                "GET",
                f"/v1/projects/{quote(place.project)}/locations/{quote(place.location or '')}"
                f"/repositories/{quote(place.repository)}",
            )
        except RegistryError:
            return error
        if response.status != 200:
            return error
        return (
            f"Artifact Registry repository {place.repository} exists; the image {place.image} "
            "appears on the first push"
        )

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        place = self._where(target)
        parent = f"/v1/projects/{quote(place.project)}/locations/{quote(place.location or '')}"
        response = await self._api(
            op,
            target,
            "POST",
            f"{parent}/repositories?repositoryId={quote(place.repository)}",
            {"format": "DOCKER"},
        )
        if response.status not in (200, 201):
            raise self._failure(
                response, f"repository {place.repository}", "artifactregistry.admin"
            )
        await self._outcome(op, target, response, f"creating repository {place.repository}")
        return (
            f"Created Artifact Registry repository {place.repository} in {place.project} "
            f"({place.location}); the image {place.image} appears on the first push."
        )

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        place = self._where(target)
        path = (
            f"/v1/projects/{quote(place.project)}/locations/{quote(place.location or '')}"
            f"/repositories/{quote(place.repository)}/packages/{quote(place.image, safe='')}"
        )
        response = await self._api(op, target, "DELETE", path)
        if not confirms_deletion(response):
            raise self._failure(
                response,
                f"package {place.image} in {place.repository}",
                "artifactregistry.repoAdmin",
            )
        if response.status != 204:
            await self._outcome(
                op, target, response, f"deleting package {place.image} in {place.repository}"
            )

    async def _outcome(
        self, op: Operation, target: RepositoryTarget, response: HttpResponse, what: str
    ) -> None:
        """Wait for the long-running Operation `response` carries; raise if it failed.

        Polls `operations.get` with pauses of 0.25 s doubling up to 5 s, for at most
        POLL_BUDGET seconds; an operation still running then is reported as such (it may
        yet finish: the console shows it)."""
        operation = json_dict(response)
        name = operation.get("name")
        pause = POLL_FIRST
        waited = 0.0
        while not operation.get("done"):
            if not isinstance(name, str) or not name.strip("/"):
                raise RegistryError(
                    ErrorKind.PROTOCOL,
                    f"Artifact Registry accepted {what} but named no operation to follow.",
                )
            if waited >= POLL_BUDGET:
                raise RegistryError(
                    ErrorKind.TIMEOUT,
                    f"Artifact Registry had not finished {what} after {POLL_BUDGET:.0f} s "
                    f"(operation {server_text(name)}); it may still finish, see the console.",
                )
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * POLL_FACTOR, POLL_LONGEST)
            polled = await self._api(op, target, "GET", "/v1/" + quote(name.strip("/")))
            if polled.status != 200:
                raise self._failure(polled, f"operation {name}", "artifactregistry.reader")
            operation = json_dict(polled)
        error = operation.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            said = server_text(message) if isinstance(message, str) and message else "no reason"
            kind = (
                _RPC_KINDS.get(code, ErrorKind.REGISTRY_ERROR)
                if isinstance(code, int)
                else (ErrorKind.REGISTRY_ERROR)
            )
            raise RegistryError(kind, f"Artifact Registry failed {what}: {said}.")
