"""Azure Container Registry: admin user / repository-scoped token, or a service principal.

An admin user or a repository-scoped token is a plain username and password:
the registry's own token flow takes it as it is.  A service principal is
stored as Username `TENANT_ID/CLIENT_ID` with its client secret; the bot asks
Entra ID for an access token (`{IMAGEREPO_AZURE_AUTHORITY}/{tenant}/oauth2/v2.0/token`,
client credentials), exchanges it at the registry's `POST /oauth2/exchange` for
an ACR refresh token, and uses that as the password of the fixed user
`00000000-0000-0000-0000-000000000000` in the normal token flow.  The refresh
token is cached until 80 % of its lifetime (its JWT `exp`), never stored.

The Entra token is first asked for the ARM audience (`management.azure.com`),
which every registry took for years; a registry may refuse it (Azure Policy
"Container registries should have ARM audience token authentication disabled",
`az acr config authentication-as-arm`), and then the exchange is tried again with
a token for the ACR audience (`https://containerregistry.azure.net/.default`,
Azure/acr docs/AAD-OAuth.md).  The Connection Test says which audience worked;
"give AcrPull" is said only when the registry refused both.

ACR creates repositories on the first push; delete in IR is
`DELETE /acr/v1/{repository}` with a token scoped to `delete`.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from registry.drivers import MintingDriver, Operation
from registry.errors import ErrorKind, RegistryError, refusal, server_text
from registry.hostedapi import json_dict
from registry.http import HttpResponse, Service, confirms_deletion
from registry.kinds import RegistryType
from registry.minting import Minted, mint_key
from registry.oci import describe_codes
from registry.results import STEP_PULL, STEP_PUSH
from registry.target import Credentials, RepositoryTarget, TlsOptions
from registry.urlguard import RegistryUrl, origin_of, parse_url

REFRESH_USER = "00000000-0000-0000-0000-000000000000"
ENTRA_SCOPE = "https://management.azure.com/.default"  # the ARM audience
ACR_SCOPE = "https://containerregistry.azure.net/.default"  # the registry's own audience
_GUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
SERVICE_PRINCIPAL = re.compile(rf"^(?P<tenant>{_GUID}|[a-z0-9.-]+)/(?P<client>{_GUID})$")
DEFAULT_REFRESH_LIFETIME = timedelta(hours=3)
NEEDS_ROLE = "The identity needs the {} role (or a token scope map that allows it)."


def _form(values: dict[str, str]) -> bytes:
    return urlencode(values).encode()


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, read without verifying (only to know when to refresh)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
        return datetime.fromtimestamp(float(exp), tz=UTC) if exp else None
    except (ValueError, TypeError, OverflowError):
        return None


class AcrDriver(MintingDriver):
    type = RegistryType.ACR
    label = "Azure Container Registry"

    def provider_origins(self) -> frozenset[str]:
        """Entra ID (a service principal's secret)."""
        return frozenset({origin_of(self.config.azure_authority)})

    step_needs = {STEP_PULL: NEEDS_ROLE.format("AcrPull"), STEP_PUSH: NEEDS_ROLE.format("AcrPush")}

    async def _post(
        self, op: Operation, url: str, values: dict[str, str], service: Service, tls: TlsOptions
    ) -> HttpResponse:
        return await op.http.request(
            "POST",
            url,
            tls=tls,
            stats=op.stats,
            service=service,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            content=_form(values),
        )

    async def _entra_token(
        self, op: Operation, tenant: str, client: str, secret: str, scope: str = ENTRA_SCOPE
    ) -> str:
        authority = parse_url(self.config.azure_authority, what="Entra ID authority URL")
        url = authority.endpoint(f"/{quote(tenant, safe='')}/oauth2/v2.0/token")
        response = await self._post(
            op,
            url,
            {
                "grant_type": "client_credentials",
                "client_id": client,
                "client_secret": secret,
                "scope": scope,
            },
            Service(f"Entra ID at {authority.base}"),
            TlsOptions(),
        )
        data = json_dict(response)
        token = data.get("access_token")
        if response.status == 200 and isinstance(token, str) and token:
            op.secrets.add(token)
            return token
        code = str(data.get("error") or f"HTTP {response.status}")
        description = str(data.get("error_description") or "").split("\n")[0]
        said = f"{code}: {server_text(description)}" if description else code
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED
            if response.status in (400, 401, 403)
            else ErrorKind.REGISTRY_ERROR,
            f"Entra ID refused the service principal {client} of tenant {tenant} ({said}).",
        )

    async def _exchange_once(
        self, op: Operation, base: RegistryUrl, tls: TlsOptions, tenant: str, aad_token: str
    ) -> HttpResponse:
        return await self._post(
            op,
            base.endpoint("/oauth2/exchange"),
            {
                "grant_type": "access_token",
                "service": base.netloc,
                "tenant": tenant,
                "access_token": aad_token,
            },
            Service(f"the registry's token exchange at {base.base}"),
            tls,
        )

    async def _exchange(
        self,
        op: Operation,
        base: RegistryUrl,
        tls: TlsOptions,
        tenant: str,
        client: str,
        secret: str,
    ) -> tuple[str, str]:
        """An ACR refresh token and the audience of the Entra token it was exchanged for:
        ARM first; where the registry refuses it (401/403), the ACR audience."""
        aad = await self._entra_token(op, tenant, client, secret, ENTRA_SCOPE)
        response = await self._exchange_once(op, base, tls, tenant, aad)
        audience = "ARM audience (management.azure.com)"
        if response.status in (401, 403):
            aad = await self._entra_token(op, tenant, client, secret, ACR_SCOPE)
            response = await self._exchange_once(op, base, tls, tenant, aad)
            audience = (
                "ACR audience (containerregistry.azure.net; the registry refuses "
                "ARM-audience tokens)"
            )
        data = json_dict(response)
        refresh = data.get("refresh_token")
        if response.status == 200 and isinstance(refresh, str) and refresh:
            return refresh, audience
        if response.status in (401, 403):
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"{base.netloc} refused the exchange at /oauth2/exchange of Entra ID tokens for "
                f"both the ARM and the ACR audience (HTTP {response.status}): give the service "
                "principal a role on this registry (AcrPull, and AcrPush to push).",
            )
        raise RegistryError(
            ErrorKind.REGISTRY_ERROR,
            f"The token exchange at {base.base}/oauth2/exchange answered HTTP "
            f"{response.status}{describe_codes(response)}.",
        )

    async def registry_credentials(
        self, op: Operation, target: RepositoryTarget
    ) -> Credentials | None:
        credentials = target.credentials
        match = SERVICE_PRINCIPAL.match(credentials.username) if credentials else None
        if credentials is None or match is None:
            return credentials  # admin user or repository-scoped token: Basic as it is
        tenant, client = match["tenant"], match["client"]
        base = parse_url(target.registry_url)
        op.remember(credentials)
        cache_key = mint_key("acr", credentials.username, credentials.secret, base.netloc)

        async def mint() -> Minted:
            refresh, audience = await self._exchange(
                op, base, target.tls, tenant, client, credentials.secret
            )
            now = self.minting.clock()
            expires = jwt_expiry(refresh) or now + DEFAULT_REFRESH_LIFETIME
            return Minted(
                Credentials(REFRESH_USER, refresh),
                expires,
                how=(
                    f"refresh token from /oauth2/exchange for service principal {client}, "
                    f"Entra token for the {audience}"
                ),
            )

        return op.use_minted(await self.minting.get("acr", cache_key, mint))

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        location = self.located(target)
        credentials = await self.registry_credentials(op, target)
        session = op.session(location.base, location.tls, credentials, self.label, pins=target.pins)
        grant = await session.authorize(location.repository, ("delete",))
        response = await op.http.request(
            "DELETE",
            location.base.endpoint(f"/acr/v1/{location.repository}"),
            tls=location.tls,
            stats=op.stats,
            service=session.service,
            authorization=grant.authorization,
            headers={"Accept": "application/json"},
        )
        if confirms_deletion(response):
            return
        denied = (
            f"{location.base.netloc} refused to delete {location.repository} "
            f"(HTTP {response.status}): the identity needs the AcrDelete role."
        )
        raise refusal(
            response.status,
            {
                404: (
                    ErrorKind.REPOSITORY_NOT_FOUND,
                    f"{location.base.netloc} has no repository {location.repository}.",
                ),
                401: (ErrorKind.PERMISSION_DENIED, denied),
                403: (ErrorKind.PERMISSION_DENIED, denied),
            },
        ) or RegistryError(
            ErrorKind.REGISTRY_ERROR,
            f"Deleting {location.repository} answered HTTP {response.status}"
            f"{describe_codes(response)}.",
        )
