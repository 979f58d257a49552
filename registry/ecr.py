"""Amazon ECR: the registry password is minted with `GetAuthorizationToken`, never stored.

Stored: an access key id (`Username`, optionally followed by a space and the
ARN of a role to assume through STS) and its secret access key.  Minted: the
registry password (`AWS:<password>`, 12 hours), cached until 80 % of its
lifetime per key, role and region (registry/minting.py).  boto3 does the SigV4
signing and reads `AWS_ENDPOINT_URL_ECR` / `AWS_ENDPOINT_URL_STS` itself; its
calls block, so they run in a worker thread.  The registry host itself is
reached through the guarded client like any registry.

Create new is `CreateRepository`; delete in IR is `DeleteRepository` with
`force` (images and all).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.drivers import Location, MintingDriver, Operation
from registry.errors import ErrorKind, RegistryError, server_text
from registry.kinds import RegistryType
from registry.minting import Minted, mint_key
from registry.results import STEP_PULL, STEP_PUSH
from registry.target import Credentials, RepositoryTarget
from registry.urlguard import parse_url

# AWS ECR user guide, "Making requests to Amazon ECR registries" (ecr-requests.html) and
# the AWS general reference's ECR endpoints: IPv4 `ACCOUNT.dkr.ecr.REGION.amazonaws.com`
# (`.com.cn` in China), FIPS `ACCOUNT.dkr.ecr-fips.REGION.amazonaws.com`, dual-stack
# (IPv4+IPv6) `ACCOUNT.dkr-ecr.REGION.on.aws` (FIPS `dkr-ecr-fips`; China
# `.on.amazonwebservices.com.cn`).
ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr[.-]ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
    r"\.(?:amazonaws\.com(?:\.cn)?|on\.aws|on\.amazonwebservices\.com\.cn)$"
)
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
SESSION_NAME = "imagerepo-bot"

_AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)
_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


@dataclass(frozen=True)
class AwsKey:
    """The stored long-lived credential: access key id, secret, optional role ARN."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    role_arn: str | None = None


def parse_key(credentials: Credentials | None) -> AwsKey:
    """`Username` is `ACCESS_KEY_ID` or `ACCESS_KEY_ID ROLE_ARN`; the secret is the secret key."""
    if credentials is None:
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED,
            "Amazon ECR needs an access key id (Username) and its secret access key "
            "(Password or access token).",
        )
    parts = credentials.username.split()
    if not parts or len(parts) > 2:
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED,
            "Username must be the access key id, optionally followed by a space and the ARN "
            "of a role to assume.",
        )
    role = parts[1] if len(parts) == 2 else None
    if role is not None and not ROLE_ARN.match(role):
        raise RegistryError(
            ErrorKind.AUTHENTICATION_FAILED,
            f"{server_text(role)!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME).",
        )
    return AwsKey(parts[0], credentials.secret, role)


@dataclass(frozen=True)
class EcrPlace:
    """Region and registry (account) id of an ECR registry URL."""

    region: str
    account: str | None


def ecr_place(host: str, default_region: str | None) -> EcrPlace:
    """From the registry host (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`, its FIPS, China and
    dual-stack forms, see ECR_HOST), else AWS_REGION/AWS_DEFAULT_REGION."""
    match = ECR_HOST.match(host.lower())
    if match:
        return EcrPlace(match["region"], match["account"])
    if default_region:
        return EcrPlace(default_region, None)
    raise RegistryError(
        ErrorKind.INVALID_URL,
        f"Cannot tell the AWS region of {host}: use the registry URL "
        "https://ACCOUNT.dkr.ecr.REGION.amazonaws.com or the dual-stack "
        "https://ACCOUNT.dkr-ecr.REGION.on.aws (or set AWS_REGION).",
    )


def _aws_errors() -> tuple[type[Exception], ...]:
    """What boto3 raises: `ClientError` (AWS answered with an error code) and
    `BotoCoreError` (no answer, a bad region or CA bundle, ...). Imported when an error
    is being matched, like boto3 itself, so that loading the driver stays cheap."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def aws_error(exc: Exception, action: str) -> RegistryError:
    """A boto3/botocore failure in AWS's own words (error code), for the user."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoRegionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        text = server_text(str(error.get("Message", "")))
        said = f" ({code}: {text})" if text else f" ({code})"
        if code in _DENIED_CODES:
            return RegistryError(ErrorKind.PERMISSION_DENIED, f"AWS refused {action}{said}.")
        if code in _AUTH_CODES:
            return RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                f"AWS rejected the access key at {action}{said}.",
            )
        if code == "RepositoryNotFoundException":
            return RegistryError(ErrorKind.REPOSITORY_NOT_FOUND, f"Amazon ECR: {text or code}.")
        if code == "RepositoryAlreadyExistsException":
            return RegistryError(ErrorKind.ALREADY_EXISTS, f"Amazon ECR: {text or code}.")
        if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
            return RegistryError(ErrorKind.RATE_LIMITED, f"AWS throttled {action}{said}.")
        return RegistryError(ErrorKind.REGISTRY_ERROR, f"AWS failed {action}{said}.")
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return RegistryError(ErrorKind.TIMEOUT, f"AWS did not answer {action} in time.")
    if isinstance(exc, EndpointConnectionError):
        return RegistryError(
            ErrorKind.NETWORK_ERROR, f"Cannot reach the AWS endpoint for {action}."
        )
    if isinstance(exc, NoRegionError):
        return RegistryError(ErrorKind.INVALID_URL, "No AWS region: set AWS_REGION.")
    return RegistryError(
        ErrorKind.REGISTRY_ERROR, f"AWS call {action} failed ({exc.__class__.__name__})."
    )


class AwsClients:
    """boto3 clients for one key, region and (optional) assumed role; blocking calls."""

    def __init__(self, key: AwsKey, region: str, timeout: float) -> None:
        self.key = key
        self.region = region
        self.timeout = timeout

    def _config(self) -> Any:
        from botocore.config import Config

        return Config(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"max_attempts": 2, "mode": "standard"},
            user_agent_extra="imagerepo-bot",
        )

    def ecr(self) -> Any:
        """An ECR client, after `sts:AssumeRole` when a role is configured."""
        try:
            return self._ecr()
        except RegistryError:
            raise
        except _aws_errors() as exc:  # botocore's configuration errors (CA bundle, region, ...)
            raise aws_error(exc, "setting up the AWS client") from None

    def _ecr(self) -> Any:
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=self.key.access_key_id,
            aws_secret_access_key=self.key.secret_access_key,
            region_name=self.region,
        )
        if self.key.role_arn is not None:
            sts = session.client("sts", config=self._config())
            try:
                answer = sts.assume_role(
                    RoleArn=self.key.role_arn, RoleSessionName=SESSION_NAME, DurationSeconds=3600
                )
            except _aws_errors() as exc:
                raise aws_error(exc, f"sts:AssumeRole on {self.key.role_arn}") from None
            temporary = answer["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=temporary["AccessKeyId"],
                aws_secret_access_key=temporary["SecretAccessKey"],
                aws_session_token=temporary["SessionToken"],
                region_name=self.region,
            )
        return session.client("ecr", config=self._config())

    def authorization_token(self) -> tuple[str, str, datetime]:
        """(`AWS`, password, expiry) from `ecr:GetAuthorizationToken`."""
        client = self.ecr()
        try:
            answer = client.get_authorization_token()
        except _aws_errors() as exc:
            raise aws_error(exc, "ecr:GetAuthorizationToken") from None
        data = (answer.get("authorizationData") or [{}])[0]
        try:
            raw = base64.b64decode(data["authorizationToken"], validate=True).decode()
        except (KeyError, binascii.Error, UnicodeDecodeError):
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR, "ecr:GetAuthorizationToken answered without a token."
            ) from None
        user, _, password = raw.partition(":")
        expires = data.get("expiresAt")
        if not isinstance(expires, datetime):
            expires = datetime.now(UTC) + timedelta(hours=12)
        elif expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return user or "AWS", password, expires


class EcrDriver(MintingDriver):
    type = RegistryType.ECR
    label = "Amazon ECR"
    step_needs = {
        STEP_PULL: "The IAM identity needs ecr:BatchGetImage and ecr:GetDownloadUrlForLayer.",
        STEP_PUSH: "The IAM identity needs ecr:InitiateLayerUpload, ecr:UploadLayerPart, "
        "ecr:CompleteLayerUpload, ecr:BatchCheckLayerAvailability and ecr:PutImage.",
    }

    def _clients(self, target: RepositoryTarget) -> tuple[AwsClients, EcrPlace]:
        key = parse_key(target.credentials)
        place = ecr_place(parse_url(target.registry_url).host, self.config.aws_region)
        return AwsClients(key, place.region, self.config.read_timeout), place

    async def registry_credentials(
        self, op: Operation, target: RepositoryTarget
    ) -> Credentials | None:
        clients, place = self._clients(target)
        key = clients.key
        cache_key = mint_key(
            "ecr", key.access_key_id, key.secret_access_key, key.role_arn or "", place.region
        )

        async def mint() -> Minted:
            user, password, expires = await asyncio.to_thread(clients.authorization_token)
            via = f" as {key.role_arn}" if key.role_arn else ""
            return Minted(
                Credentials(user, password),
                expires,
                how=f"registry password minted by ecr:GetAuthorizationToken{via} in {place.region}",
            )

        return op.use_minted(await self.minting.get("ecr", cache_key, mint))

    async def _call(self, target: RepositoryTarget, action: str, **params: Any) -> Any:
        clients, place = self._clients(target)
        if place.account is not None:
            params["registryId"] = place.account

        def call() -> Any:
            client = clients.ecr()
            try:
                return getattr(client, action)(**params)
            except _aws_errors() as exc:
                name = "".join(part.title() for part in action.split("_"))
                raise aws_error(exc, f"ecr:{name}") from None

        return await asyncio.to_thread(call)

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """A repository just made by Create new has no images yet: ask ECR whether it exists
        (ecr:DescribeRepositories); an app repository then passes pull, its first push fills it."""
        if error.kind is not ErrorKind.REPOSITORY_NOT_FOUND or target.pull_only:
            return error
        try:
            await self._call(target, "describe_repositories", repositoryNames=[location.repository])
        except RegistryError:
            return error
        return f"ECR repository {location.repository} exists and is empty: images come on push"

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        op.remember(target.credentials)
        location = self.locate(target)
        await self._call(target, "create_repository", repositoryName=location.repository)
        return f"Created ECR repository {location.repository} at {location.base.base}."

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        op.remember(target.credentials)
        location = self.locate(target)
        answer = await self._call(
            target, "delete_repository", repositoryName=location.repository, force=True
        )
        # DeleteRepository answers with the repository it deleted (AWS ECR API reference,
        # DeleteRepository, "Response Syntax"); anything else confirms nothing.
        if not isinstance(answer, dict) or not isinstance(answer.get("repository"), dict):
            raise RegistryError(
                ErrorKind.PROTOCOL,
                "ecr:DeleteRepository answered without the deleted repository "
                f"{location.repository}; it is not counted as deleted.",
            )
