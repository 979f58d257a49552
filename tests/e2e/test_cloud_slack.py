"""Amazon ECR, Google Artifact Registry and Azure Container Registry from Slack, end to end.

Signed requests to the real bot process (one per module, its provider endpoints set
the standard way), with moto as the ECR API, the Google token endpoint + Artifact
Registry API stand-in and the ACR front, each in front of a real docker-registry.

For each type: add (choose the type, Connection Test, Save), Change account (a bad
credential refused in the provider's words and nothing changed, then a good one tested
and saved), Delete with "also in IR" (gone at the provider).  Create new for the types
that can create (ECR, GAR) creates the repository at the provider on Save.  No typed
secret (nor a minted token) reaches Slack, the bot's log or the database file.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.flow import Flow, bot_process, texts
from tests.e2e.helpers import account_values, add_values
from tests.support.bot_process import BotProcess
from tests.support.certs import TestCA
from tests.support.cloud_acr import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_USER,
    TENANT,
    AcrSetup,
    open_acr,
)
from tests.support.cloud_ecr import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    EcrStandIn,
    open_ecr,
)
from tests.support.cloud_gar import LOCATION, SEED_PASSWORD, GarSetup, open_gar
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import checkboxes_value, find_input, values_by_label

pytestmark = pytest.mark.registry

TYPES = ["ecr", "gar", "acr"]
WRONG_AWS_SECRET = "wrong-aws-secret-access-key-000000000000"
WRONG_AZURE_SECRET = "wrong-azure-client-secret-0000000"
SP_USER = f"{TENANT}/{CLIENT_ID}"


@dataclass
class Providers:
    ecr: EcrStandIn
    gar: GarSetup
    acr: AcrSetup


@pytest.fixture(scope="module")
def providers(registry_ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Providers]:
    with (
        open_ecr(tmp_path_factory.mktemp("ecr")) as ecr,
        open_gar(registry_ca, tmp_path_factory.mktemp("gar")) as gar,
        open_acr(registry_ca, tmp_path_factory.mktemp("acr")) as acr,
    ):
        yield Providers(ecr, gar, acr)


@pytest.fixture(scope="module")
def bot(
    standin: SlackApiStandIn,
    database_url_e2e: str,
    tmp_path_factory: pytest.TempPathFactory,
    providers: Providers,
) -> Iterator[BotProcess]:
    """One bot for the three providers, their endpoints overridden the documented way."""
    env = dict(providers.ecr.env())
    env["AWS_CONFIG_FILE"] = str(tmp_path_factory.mktemp("aws") / "none")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path_factory.mktemp("aws") / "none")
    env["IMAGEREPO_GOOGLE_API_URL"] = providers.gar.api_url
    env["IMAGEREPO_GOOGLE_LOCATION"] = LOCATION  # the loopback URL does not say
    env["IMAGEREPO_AZURE_AUTHORITY"] = providers.acr.url
    with bot_process(standin, database_url_e2e, tmp_path_factory, extra_env=env) as process:
        yield process


@dataclass
class Case:
    """One provider as a user meets it in the modal, and how to look at it from outside."""

    type: str
    label: str
    url: str
    repository: str
    username: str
    secret: str
    # (username, secret, words the provider uses to refuse it)
    bad: tuple[str, str, str]
    good: tuple[str, str]
    gone: Callable[[], bool]  # the repository no longer exists at the provider
    secrets: list[str] = field(default_factory=list)
    minted: Callable[[], list[str]] = lambda: []
    during_change: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext


@contextlib.contextmanager
def aws_signatures_checked(ecr: EcrStandIn) -> Iterator[None]:
    """moto checks access keys and SigV4 signatures meanwhile, as AWS always does."""
    httpx.post(f"{ecr.endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    try:
        yield
    finally:
        httpx.post(f"{ecr.endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()


def iam_access_key(ecr: EcrStandIn, user: str) -> tuple[str, str]:
    """A real (moto) IAM user's access key, allowed everything: a key AWS would know."""
    iam = boto3.client(
        "iam",
        region_name=REGION,
        endpoint_url=ecr.endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def private_key_line(key_json: str) -> str:
    """One line of the key's PEM body: enough to tell the private key leaked."""
    pem = json.loads(key_json)["private_key"]
    return str(pem.splitlines()[5])


def make_case(kind: str, p: Providers, name: str) -> Case:
    """A fresh repository `name` at provider `kind`, pushed once, with its credentials."""
    if kind == "ecr":
        ecr = p.ecr
        ecr.client().create_repository(repositoryName=name)
        ecr.registry.client("AWS", ecr.password).push_image(name)
        key_id, key_secret = iam_access_key(ecr, f"ci-{name.replace('/', '-')}")
        return Case(
            type="ecr",
            label="Amazon ECR",
            url=ecr.registry.url,
            repository=name,
            username=ACCESS_KEY_ID,
            secret=SECRET_ACCESS_KEY,
            bad=(key_id, WRONG_AWS_SECRET, "SignatureDoesNotMatch"),
            good=(key_id, key_secret),
            gone=lambda: name not in ecr.repositories(),
            secrets=[SECRET_ACCESS_KEY, WRONG_AWS_SECRET, key_secret, ecr.password],
            during_change=lambda: aws_signatures_checked(ecr),
        )
    if kind == "gar":
        gar = p.gar
        gar.registry.client("seed", SEED_PASSWORD).push_image(name)
        key = gar.google.key_json()
        stranger = gar.google.key_json(
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        project, repository, image = name.split("/", 2)
        gar.google.packages.add((project, LOCATION, repository, image))
        encoded = base64.b64encode(key.encode()).decode()
        return Case(
            type="gar",
            label="Google Artifact Registry",
            url=gar.registry.url,
            repository=name,
            username="_json_key",
            secret=key,
            bad=("_json_key", stranger, "Invalid JWT Signature"),
            good=("_json_key_base64", encoded),
            gone=lambda: (project, LOCATION, repository, image) not in gar.google.packages,
            secrets=[key, private_key_line(key), stranger, private_key_line(stranger), encoded],
            minted=lambda: list(gar.google.minted),
        )
    acr = p.acr
    acr.push(name)

    def refresh_tokens() -> list[str]:
        user = acr.front.users.get(REFRESH_USER)
        return [*acr.front.aad_tokens, *([user.password] if user else [])]

    return Case(
        type="acr",
        label="Azure Container Registry",
        url=acr.url,
        repository=name,
        username=SP_USER,
        secret=CLIENT_SECRET,
        bad=(SP_USER, WRONG_AZURE_SECRET, "invalid_client: AADSTS7000215"),
        good=(ADMIN_USER, ADMIN_PASSWORD),
        gone=lambda: acr.tags(name) == [],
        secrets=[CLIENT_SECRET, WRONG_AZURE_SECRET, ADMIN_PASSWORD],
        minted=refresh_tokens,
    )


REPOSITORY = {"ecr": "e2e/{n}", "gar": "acme-prod/docker/{n}", "acr": "e2e/{n}"}


def database_bytes(database_url: str) -> bytes:
    """The SQLite database as stored on disk (its WAL too): what a stolen file shows."""
    path = Path(database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def assert_nowhere(
    flow: Flow, standin: SlackApiStandIn, secrets: list[str], stored_in_clear: str | None = None
) -> None:
    """No secret in the Web API calls, the bot's log or the database file; `stored_in_clear`
    (a user name, kept in plaintext) proves the scan reads the real rows."""
    recorded = json.dumps([c.params for c in standin.calls])
    assert [s for s in secrets if s in recorded] == [], "a secret reached Slack"
    flow.bot.assert_log_free_of(secrets)
    stored = database_bytes(flow.database_url)
    if stored_in_clear is not None:
        assert stored_in_clear.encode() in stored, "the scan did not see the rows"
    assert [s for s in secrets if s.encode() in stored] == [], "a secret is in the database"


async def add_through_modal(flow: Flow, case: Case, creation: str | None = None) -> None:
    """Choose the type, fill the form, Connection Test, Save; wait for the channel post."""
    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", case.type)
    assert case.label in texts(view)
    if creation is not None:
        view = await flow.choose(view, "Repository creation", creation)
    values = add_values(
        view,
        url=case.url,
        repository=case.repository,
        username=case.username,
        password=case.secret,
        creation=creation,
    )
    await flow.click(view, "Connection Test", values)
    await flow.next_update()  # "Testing the connection"
    passed = await flow.next_update()
    assert "Connection test passed" in texts(passed), texts(passed)
    if creation == "new":
        assert "created when you save" in texts(passed), texts(passed)
    answer = await flow.submit(passed, values)
    saved = answer.get("view") or {}
    if "Saved" not in texts(saved):
        saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert f"Saved the app repository `{case.repository}`" in texts(saved), texts(saved)
    await flow.next_call("chat.postMessage")


@pytest.mark.parametrize("kind", TYPES)
async def test_add_change_account_and_delete_in_ir_from_slack(
    kind: str,
    flow: Flow,
    providers: Providers,
    standin: SlackApiStandIn,
    secrets: list[str],
) -> None:
    case = make_case(kind, providers, REPOSITORY[kind].format(n="lifecycle"))
    secrets.extend(case.secrets)
    await flow.create_project(f"{kind}-lifecycle")

    # Add: the type chosen in the modal, tested, saved with the secret encrypted.
    await add_through_modal(flow, case)
    [row] = await flow.repositories()
    assert (row.registry_type, row.repository, row.username) == (
        kind,
        case.repository,
        case.username,
    )
    first_ciphertext = row.secret_ciphertext
    blocks = await flow.list_blocks()
    assert case.label in texts(blocks)

    # Change account: the new credential is tested first; a bad one is refused in the
    # provider's own words and the saved account stays as it was.
    bad_user, bad_secret, words = case.bad
    good_user, good_secret = case.good
    with case.during_change():
        await flow.menu(blocks, case.repository, "Change account")
        view = dict((await flow.next_call("views.open")).response["view"])
        assert "initial_value" not in find_input(view, "Password or access token").element
        answer = await flow.submit(view, account_values(view, bad_user, bad_secret))
        assert "Testing the new account" in texts(answer["view"])
        failed = await flow.next_update(timeout=30)
        assert words in texts(failed) and "not changed" in texts(failed), texts(failed)
        [row] = await flow.repositories()
        assert (row.username, row.secret_ciphertext) == (case.username, first_ciphertext)

        await flow.submit(failed, account_values(failed, good_user, good_secret))
        changed = await flow.next_update(timeout=30)
    shown = texts(changed).replace("\uff3f", "_")  # mrkdwn shows _ as a full-width one
    assert f"is now *{good_user}*" in shown, shown
    assert "Connection test passed" in texts(changed)
    [row] = await flow.repositories()
    assert row.username == good_user and row.secret_ciphertext != first_ciphertext
    assert row.health == "healthy"
    assert_nowhere(flow, standin, [*secrets, *case.minted()], stored_in_clear=good_user)

    # Delete, also in IR: gone at the provider, then from the list.
    assert not case.gone()
    await flow.menu(blocks, case.repository, "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    await flow.submit(view, ticked)
    done = await flow.next_update(timeout=30)
    assert "and in the image registry" in texts(done), texts(done)
    assert case.gone()
    assert await flow.repositories() == []

    minted = case.minted()
    assert minted or kind == "ecr"  # GAR and ACR minted tokens the bot must not show
    secrets.extend(minted)
    assert_nowhere(flow, standin, secrets)


@pytest.mark.parametrize("kind", ["ecr", "gar"])
async def test_create_new_creates_the_repository_at_the_provider(
    kind: str,
    flow: Flow,
    providers: Providers,
    standin: SlackApiStandIn,
    secrets: list[str],
) -> None:
    name = REPOSITORY[kind].format(n="created")
    case = make_case(kind, providers, REPOSITORY[kind].format(n="seed"))
    case.repository = name
    secrets.extend(case.secrets)
    await flow.create_project(f"{kind}-create")

    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", kind)
    creation = find_input(view, "Repository creation").element
    offered = [o["text"]["text"] for o in creation["options"]]
    assert offered == ["Create new repository", "Use existing repository"]

    if kind == "ecr":
        assert name not in providers.ecr.repositories()
    else:
        assert ("acme-prod", LOCATION, "docker-new") not in providers.gar.google.repositories
        case.repository = "acme-prod/docker-new/api"
    await add_through_modal(flow, case, creation="new")

    if kind == "ecr":
        assert name in providers.ecr.repositories()  # CreateRepository reached moto
    else:
        assert ("acme-prod", LOCATION, "docker-new") in providers.gar.google.repositories
    [row] = await flow.repositories()
    assert (row.registry_type, row.repository, row.health) == (kind, case.repository, "healthy")
    secrets.extend(case.minted())
    assert_nowhere(flow, standin, secrets, stored_in_clear=case.username)


async def test_acr_offers_only_use_existing_and_says_why(flow: Flow) -> None:
    await flow.create_project("acr-creation")
    view = await flow.open_modal("add")
    view = await flow.choose(view, "Repository type", "acr")
    block = next(
        b
        for b in view["blocks"]
        if b.get("type") == "input" and b["label"]["text"] == "Repository creation"
    )
    assert [o["text"]["text"] for o in block["element"]["options"]] == ["Use existing repository"]
    hint = block["hint"]["text"]
    assert "first push" in hint and "only registered tools" not in hint, hint


async def test_added_again_after_delete_is_announced_again(
    flow: Flow, providers: Providers, secrets: list[str]
) -> None:
    """SQLite gives the new row the deleted one's id: the channel still hears of both adds."""
    secrets.append(ADMIN_PASSWORD)
    providers.acr.push("e2e/again")
    case = Case(
        type="acr",
        label="Azure Container Registry",
        url=providers.acr.url,
        repository="e2e/again",
        username=ADMIN_USER,
        secret=ADMIN_PASSWORD,
        bad=("", "", ""),
        good=("", ""),
        gone=lambda: False,
    )
    await flow.create_project("acr-again")
    ids = []
    for _ in range(2):
        await add_through_modal(flow, case)  # waits for the channel's "added" message
        [row] = await flow.repositories()
        ids.append(row.id)
        await flow.menu(await flow.list_blocks(), "e2e/again", "Delete")
        view = dict((await flow.next_call("views.open")).response["view"])
        await flow.submit(view, values_by_label(view, {"Image registry": checkboxes_value()}))
        assert "Deleted" in texts(await flow.next_update())
        deleted = await flow.next_call("chat.postMessage")
        assert "e2e/again" in deleted.params["text"] and "deleted" in deleted.params["text"]
    assert ids[0] == ids[1]  # the case this guards: the same id, a new repository
