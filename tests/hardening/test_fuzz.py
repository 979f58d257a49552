"""Hostile input on POST /slack/events: random and mutated, correctly signed requests.

10,000 slash commands, block_actions and view_submissions (each hypothesis example
is a batch of `BATCH` requests sent at once, as Slack does under load) go through
the bot's ASGI app in this process (the app `imagerepo-bot serve` runs; see
`inprocess.py`). Every answer must be below 500 and free of a traceback, and
afterwards the database holds exactly the repositories seeded before the fuzz:
the fuzzing users are not admins of the seeded project and every registry URL
they can type is refused by the URL guard, so no submission can legitimately
save, change or delete one.

Then requests Slack did not sign: unsigned, signed with another secret, and
correctly signed but more than five minutes old: 401, and nothing done (no Web
API call, no row).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from handlers import ids
from storage import repositories
from storage.accounts import EnteredAccount
from storage.enums import RepositoryAccess
from storage.models import ImageRepository, Project
from storage.repositories import NewRepository
from tests.hardening.inprocess import InProcessBot
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import (
    block_actions,
    sign,
    slash_command,
    view_submission,
)

TOTAL = int(
    os.environ.get("HARDENING_FUZZ_TOTAL", "10000")
)  # requests the fuzz sends (asserted below)
BATCH = 10
EXAMPLES = TOTAL // BATCH
SEED_CHANNEL = "CSEED"
OWNER = "UOWNER"
FUZZ_USERS = ("UFUZZ1", "UFUZZ2")
SEED_SECRET = "seeded-secret-Hx7"
# Channels where fuzzed commands may create projects (their creator becomes admin);
# the seeded project's channel is not among them.
COMMAND_CHANNELS = ("CFUZZ1", "CFUZZ2", "CFUZZ3")

# Hosts the URL guard refuses at once (no DNS: this machine has no resolver to ask).
REFUSED_HOSTS = (
    "10.1.2.3",
    "10.1.2.3:5000",
    "127.0.0.1:9",
    "[::1]",
    "169.254.169.254",
    "192.168.0.1",
    "[fd00::1]",
    "0.0.0.0",
    "224.0.0.1",
)


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as api:
        yield api


@pytest.fixture(scope="module")
def inproc(
    standin: SlackApiStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessBot]:
    bot = InProcessBot(standin, Path(tmp_path_factory.mktemp("fuzz")))
    try:
        yield bot
    finally:
        bot.close()


class Seeds:
    """Real views and blocks the bot produced, to mutate; the seeded rows' state."""

    def __init__(self) -> None:
        self.add_view: dict[str, Any] = {}
        self.add_pull_view: dict[str, Any] = {}
        self.account_view: dict[str, Any] = {}
        self.delete_view: dict[str, Any] = {}
        self.list_blocks: list[dict[str, Any]] = []
        self.repository_ids: list[int] = []
        self.rows: list[tuple[Any, ...]] = []


async def _rows(bot: InProcessBot) -> list[tuple[Any, ...]]:
    async def read(session: Any) -> list[tuple[Any, ...]]:
        found = await session.execute(
            select(
                ImageRepository.id,
                ImageRepository.repository,
                ImageRepository.username,
                ImageRepository.secret_ciphertext,
                ImageRepository.registry_url,
            ).order_by(ImageRepository.id)
        )
        return [tuple(r) for r in found]

    return await bot.db(read)


@pytest.fixture(scope="module")
def seeds(inproc: InProcessBot, standin: SlackApiStandIn) -> Seeds:
    out = Seeds()

    async def prepare() -> None:
        client = inproc.client(user_id=OWNER, channel_id=SEED_CHANNEL)
        try:
            assert (await client.command("project create seeded")).status_code == 200
            await standin.wait_for_async("response_url", 1, timeout=10)

            async def add(session: Any) -> list[int]:
                project = await session.scalar(
                    select(Project).where(Project.channel_id == SEED_CHANNEL)
                )
                made = []
                for n in range(2):
                    row = await repositories.add(
                        session,
                        inproc.runtime.box,
                        NewRepository(
                            project_id=project.id,
                            access=RepositoryAccess.APP,
                            registry_type="registry",
                            registry_url="http://10.1.2.3:5000",
                            repository=f"seed/app{n}",
                            added_by=OWNER,
                            account=EnteredAccount("seeduser", SEED_SECRET),
                        ),
                    )
                    await session.flush()
                    made.append(int(row.id))
                return made

            out.repository_ids = await inproc.db(add)
            for text in ("add", "add-pull"):
                before = len(standin.calls_to("views.open"))
                await client.command(text)
                opened = await standin.wait_for_async("views.open", before + 1, timeout=10)
                view = dict(opened[-1].response["view"])
                if text == "add":
                    out.add_view = view
                else:
                    out.add_pull_view = view
            before = len(standin.calls_to("response_url"))
            await client.command("list")
            listed = await standin.wait_for_async("response_url", before + 1, timeout=10)
            out.list_blocks = list(listed[-1].params.get("blocks") or [])
            for option, attr in (
                (ids.MENU_ACCOUNT, "account_view"),
                (ids.MENU_DELETE, "delete_view"),
            ):
                block = next(
                    b for b in out.list_blocks if b.get("accessory", {}).get("type") == "overflow"
                )
                chosen = next(
                    o for o in block["accessory"]["options"] if o["value"].startswith(option)
                )
                before = len(standin.calls_to("views.open"))
                await client.action(
                    [
                        {
                            "type": "overflow",
                            "action_id": block["accessory"]["action_id"],
                            "block_id": block["block_id"],
                            "selected_option": chosen,
                        }
                    ],
                    message={"type": "message", "ts": "1.1", "blocks": out.list_blocks},
                )
                opened = await standin.wait_for_async("views.open", before + 1, timeout=10)
                setattr(out, attr, dict(opened[-1].response["view"]))
        finally:
            await client.aclose()
        out.rows = await _rows(inproc)

    inproc.run(prepare())
    inproc.drain()
    assert out.add_view and out.account_view and out.delete_view and len(out.rows) == 2
    return out


# -- strategies ----------------------------------------------------------------

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "%00",
            "'; DROP TABLE image_repository; --",
            "<script>alert(1)</script>",
            "<!channel>",
            "*bold* `code` <@U1>",
            "a" * 5000,
            "../../etc/passwd",
            "{{7*7}}",
            "${jndi:ldap://x}",
            "\u202e\u0000\ufeff",
            "null",
            "-1",
            "99999999999999999999999",
        ]
    ),
)
urls = st.one_of(
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}{path}",
        st.sampled_from(["http", "https", "ftp", "file", "gopher", "HTTP"]),
        st.sampled_from((*REFUSED_HOSTS, "user:pw@10.1.2.3", "10.1.2.3#@127.0.0.1")),
        st.sampled_from(["", "/", "/v2/", "/a/b", "?x=1", "/%2e%2e/"]),
    ),
    nasty_text,
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), nasty_text)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
users = st.sampled_from(FUZZ_USERS)


def weighted(*choices: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The first strategy 60% of the time, the others share the rest (mostly-valid seeds)."""
    rest = st.one_of(*choices[1:])
    return st.integers(0, 9).flatmap(lambda n: choices[0] if n < 6 else rest)


def option_of(value: Any) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": str(value)[:75] or "x"}, "value": value}


@st.composite
def commands(draw: st.DrawFn, standin: SlackApiStandIn) -> bytes:
    head = draw(
        st.sampled_from(
            [
                "",
                "help",
                "project create",
                "project admin add",
                "project admin remove",
                "project",
                "add",
                "add-pull",
                "list",
                "check",
                "tools",
                "HELP",
                "list 2",
            ]
        )
    )
    tail = draw(st.one_of(st.just(""), nasty_text, st.sampled_from(["<@U1>", "<@UOWNER|o>", "x"])))
    text = draw(st.one_of(st.just(f"{head} {tail}".strip()), nasty_text))
    channel = draw(st.one_of(st.sampled_from(COMMAND_CHANNELS), nasty_text.map(lambda s: s[:20])))
    body = slash_command(
        text,
        user_id=draw(users),
        channel_id=channel,
        command=draw(st.sampled_from(["/imagerepo"] * 6 + ["/other", ""])),
        response_url=standin.new_response_url(),
    )
    if draw(st.integers(0, 9)) == 0:  # drop or garble one form field
        fields = body.split(b"&")
        index = draw(st.integers(0, len(fields) - 1))
        fields[index] = draw(st.sampled_from([b"", b"user_id", b"text=%ZZ", b"=&="]))
        body = b"&".join(fields)
    return body


def _state_for(view: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """Random `state.values` for the inputs of `view` (and some blocks it does not have)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input" or draw(st.integers(0, 5)) == 0:
            continue
        element = block.get("element", {})
        kind = element.get("type", "plain_text_input")
        if kind == "plain_text_input":
            if block["block_id"] in (ids.B_REGISTRY_URL, ids.B_TOOL_URL):
                text = draw(st.one_of(urls, st.none()))
            else:
                text = draw(st.one_of(nasty_text, st.none(), st.just("team/app")))
            entry: dict[str, Any] = {"type": kind, "value": text}
        elif kind == "checkboxes":
            chosen = draw(
                st.lists(
                    st.sampled_from(
                        [ids.OPT_INSECURE, ids.OPT_SAVE_UNHEALTHY, ids.OPT_DELETE_IN_IR, "x"]
                    ),
                    max_size=3,
                )
            )
            entry = {"type": kind, "selected_options": [option_of(v) for v in chosen]}
        else:
            declared = [o["value"] for o in element.get("options", [])]
            value = draw(
                st.one_of(st.sampled_from(declared or ["x"]), nasty_text, st.integers(), st.none())
            )
            entry = {
                "type": kind,
                "selected_option": None if value is None else option_of(value),
            }
        values.setdefault(block["block_id"], {})[element.get("action_id", "x")] = entry
    if draw(st.integers(0, 4)) == 0:
        values[draw(st.text(max_size=12))] = draw(json_values)
    return values


def _metadata(draw: st.DrawFn, seeds: Seeds, view: dict[str, Any]) -> str:
    ids_ = [*seeds.repository_ids, 0, -1, 10**12]
    return draw(
        st.one_of(
            st.just(str(view.get("private_metadata", ""))),
            st.builds(
                lambda access, channel, registry_type, creation, fp: json.dumps(
                    {
                        "access": access,
                        "channel_id": channel,
                        "registry_type": registry_type,
                        "creation": creation,
                        "fp": fp,
                    }
                ),
                st.one_of(st.sampled_from(["app", "pull_only"]), nasty_text),
                st.one_of(st.sampled_from([SEED_CHANNEL, "CNOPROJECT"]), nasty_text),
                st.one_of(st.sampled_from(["registry", "dockerhub", "harbor"]), nasty_text),
                st.one_of(st.sampled_from(["new", "existing"]), nasty_text),
                st.one_of(st.just(""), nasty_text),
            ),
            st.builds(
                lambda rid, source: json.dumps({"repository_id": rid, "source": source}),
                st.one_of(st.sampled_from(ids_), nasty_text, json_values),
                st.sampled_from(["", "home", "x"]),
            ),
            st.sampled_from([str(i) for i in ids_]),
            json_values.map(json.dumps),
            nasty_text,
        )
    )


@st.composite
def submissions(draw: st.DrawFn, seeds: Seeds) -> bytes:
    base = draw(
        st.sampled_from(
            [seeds.add_view, seeds.add_pull_view, seeds.account_view, seeds.delete_view]
        )
    )
    view = json.loads(json.dumps(base))
    known_callbacks = st.sampled_from(
        [
            ids.VIEW_ADD,
            ids.VIEW_ACCOUNT,
            ids.VIEW_DELETE,
            ids.VIEW_TOOL,
            ids.VIEW_TOOL_REMOVE,
            ids.VIEW_NOTICE,
        ]
    )
    same = st.just(view.get("callback_id", ""))
    view["callback_id"] = draw(weighted(same, known_callbacks, nasty_text))
    view["private_metadata"] = _metadata(draw, seeds, view)
    if draw(st.integers(0, 9)) == 0:
        view["blocks"] = draw(st.lists(json_values, max_size=3))
    if view["callback_id"] in (ids.VIEW_TOOL, ids.VIEW_TOOL_REMOVE):
        tool_view = {
            "blocks": [
                {
                    "type": "input",
                    "block_id": b,
                    "element": {"type": "plain_text_input", "action_id": a},
                }
                for b, a in (
                    (ids.B_TOOL_NAME, ids.A_TOOL_NAME),
                    (ids.B_TOOL_URL, ids.A_TOOL_URL),
                    (ids.B_TOOL_USERNAME, ids.A_TOOL_USERNAME),
                    (ids.B_TOOL_SECRET, ids.A_TOOL_SECRET),
                    (ids.B_TOOL_CA, ids.A_TOOL_CA),
                )
            ]
        }
        values = _state_for(tool_view, draw)
    else:
        values = _state_for(base, draw)
    if draw(st.integers(0, 19)) == 0:
        view.pop(
            draw(st.sampled_from(["id", "hash", "state", "callback_id", "private_metadata"])), None
        )
    return view_submission(view, values, user_id=draw(users))


@st.composite
def actions(draw: st.DrawFn, seeds: Seeds, standin: SlackApiStandIn) -> bytes:
    repository_values = [
        f"{m}:{rid}" for rid in seeds.repository_ids for m in ("test", "account", "delete")
    ]
    known_actions = st.sampled_from(
        [
            ids.A_TYPE,
            ids.A_CREATION,
            ids.A_URL_CHECK,
            ids.A_TEST,
            ids.A_ROW_MENU,
            ids.A_ALERT_TEST,
            f"{ids.A_PAGE}_next",
            f"{ids.A_PAGE}_prev",
            ids.A_HOME_PROJECT,
            ids.A_TOOL_REGISTER,
            ids.A_TOOL_MENU,
            ids.A_HARBOR_PROJECT,
        ]
    )
    action_id = draw(weighted(known_actions, nasty_text))
    value = draw(
        st.one_of(
            st.sampled_from(
                [*repository_values, *(str(i) for i in seeds.repository_ids), "registry", "harbor"]
            ),
            nasty_text,
            st.integers().map(str),
        )
    )
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": draw(
            st.one_of(st.sampled_from([ids.B_TYPE, "pager", "alert_actions"]), nasty_text)
        ),
        "type": draw(
            st.sampled_from(["button", "static_select", "overflow", "radio_buttons", "x"])
        ),
    }
    if draw(st.booleans()):
        action["value"] = value
    else:
        action["selected_option"] = draw(st.one_of(st.just(option_of(value)), json_values))
    acts = [action, *draw(st.lists(json_values.map(lambda v: {"junk": v}), max_size=1))]
    if draw(st.booleans()):
        base = draw(st.sampled_from([seeds.add_view, seeds.add_pull_view, seeds.account_view]))
        view = json.loads(json.dumps(base))
        view["private_metadata"] = _metadata(draw, seeds, view)
        return block_actions(acts, user_id=draw(users), view=view, values=_state_for(base, draw))
    return block_actions(
        acts,
        user_id=draw(users),
        channel_id=draw(st.sampled_from([SEED_CHANNEL, *COMMAND_CHANNELS])),
        message={"type": "message", "ts": "1.1", "blocks": seeds.list_blocks},
        response_url=standin.new_response_url(),
    )


def requests(seeds: Seeds, standin: SlackApiStandIn) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(
        commands(standin).map(lambda b: ("command", b)),
        actions(seeds, standin).map(lambda b: ("block_actions", b)),
        submissions(seeds).map(lambda b: ("view_submission", b)),
    )


# -- the tests ---------------------------------------------------------------------


# A wall-clock bound a loaded machine does not break (the former 120 s failed at 133 s
# on two shared cores): only a hang, a listener that never returns, reaches it.
FUZZ_BOUND_SECONDS = 600


@pytest.mark.timeout(FUZZ_BOUND_SECONDS + 120)
def test_ten_thousand_signed_hostile_requests_get_no_5xx_and_store_nothing(
    inproc: InProcessBot, seeds: Seeds, standin: SlackApiStandIn
) -> None:
    errors = _ErrorLog()
    logging.getLogger().addHandler(errors)
    sent: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(requests(seeds, standin), min_size=BATCH, max_size=BATCH))
    def fuzz(batch: list[tuple[str, bytes]]) -> None:
        import asyncio

        async def send_all() -> None:
            client = inproc.client()
            try:
                answers = await asyncio.gather(*(client.post(body) for _, body in batch))
            finally:
                await client.aclose()
            for (kind, body), answer in zip(batch, answers, strict=True):
                sent[kind] += 1
                statuses[f"{kind} {answer.status_code}"] += 1
                if answer.status_code >= 500 or "Traceback" in answer.text:
                    problems.append(f"{kind} -> {answer.status_code}: {body[:300]!r}")
                if SEED_SECRET in answer.text:
                    problems.append(f"{kind} answer holds the seeded secret")

        inproc.run(send_all())
        assert not problems, problems[:3]

    try:
        fuzz()
        left = inproc.drain(timeout=30)
    finally:
        logging.getLogger().removeHandler(errors)
    elapsed = time.monotonic() - started
    total = sum(sent.values())
    print(f"fuzz: {total} signed requests {dict(sent)} statuses {dict(statuses)} in {elapsed:.1f}s")
    assert total >= TOTAL, f"only {total} requests were sent"
    assert not problems, problems[:3]
    assert left == 0, f"{left} listener tasks still running 30 s after the fuzz"
    assert elapsed < FUZZ_BOUND_SECONDS
    # A listener that crashed after the ack leaves the user staring at a spinner.
    distinct = sorted(
        {r.strip().splitlines()[0] + " | " + r.strip().splitlines()[-1] for r in errors.records}
    )
    assert errors.records == [], distinct

    # Nothing stored, changed or deleted by an invalid submission.
    assert inproc.run(_rows(inproc)) == seeds.rows
    refused = sorted({f"{v.method}: {v.error} {v.errors[:1]}" for v in standin.violations})
    assert refused == []
    recorded = json.dumps([c.params for c in standin.calls])
    assert SEED_SECRET not in recorded


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        trace = ""
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            trace = "".join(traceback.format_exception(record.exc_info[1]))[-1500:]
        self.records.append(f"{record.name}: {record.getMessage()}\n{trace}")


def _bodies(seeds: Seeds, standin: SlackApiStandIn) -> list[bytes]:
    values = {
        "Registry URL": "http://10.1.2.3:5000",
        "Repository": "stolen/app",
        "Username": "mallory",
        "Password or access token": "unsigned-secret",
    }
    state: dict[str, Any] = {}
    for block in seeds.add_view["blocks"]:
        label = block.get("label", {}).get("text")
        if block.get("type") == "input" and label in values:
            state[block["block_id"]] = {
                block["element"]["action_id"]: {"type": "plain_text_input", "value": values[label]}
            }
    meta = json.loads(seeds.add_view["private_metadata"])
    return [
        slash_command("project create stolen", user_id=OWNER, channel_id="CUNSIGNED"),
        slash_command("list", user_id=OWNER, channel_id=SEED_CHANNEL),
        view_submission(
            {
                **seeds.add_view,
                "private_metadata": json.dumps({**meta, "channel_id": SEED_CHANNEL}),
            },
            state,
            user_id=OWNER,
        ),
        view_submission(seeds.delete_view, {}, user_id=OWNER),
        block_actions(
            [
                {
                    "action_id": ids.A_ALERT_TEST,
                    "block_id": "alert_actions",
                    "type": "button",
                    "value": str(seeds.repository_ids[0]),
                }
            ],
            user_id=OWNER,
            channel_id=SEED_CHANNEL,
            response_url=standin.new_response_url(),
        ),
    ]


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "five minutes old"])
def test_requests_slack_did_not_sign_get_401_and_change_nothing(
    inproc: InProcessBot, seeds: Seeds, standin: SlackApiStandIn, case: str
) -> None:
    inproc.drain()
    rows_before = inproc.run(_rows(inproc))

    async def projects() -> int:
        async def count(session: Any) -> int:
            return int(await session.scalar(select(func.count()).select_from(Project)))

        return await inproc.db(count)

    projects_before = inproc.run(projects())
    standin.clear()
    bodies = _bodies(seeds, standin)

    async def send() -> list[Any]:
        client = inproc.client()
        out = []
        try:
            for body in bodies:
                if case == "unsigned":
                    headers = {"Content-Type": "application/x-www-form-urlencoded"}
                elif case == "wrong secret":
                    headers = sign(body, "not-" + client.signing_secret)
                else:
                    headers = sign(body, client.signing_secret, int(time.time()) - 5 * 60 - 1)
                out.append(
                    await client._http.post(client.events_url, content=body, headers=headers)
                )
        finally:
            await client.aclose()
        return out

    answers = inproc.run(send())
    assert [a.status_code for a in answers] == [401] * len(bodies)
    assert all("Traceback" not in a.text and "unsigned-secret" not in a.text for a in answers)
    assert inproc.drain() == 0
    assert [c.method for c in standin.calls if c.method != "auth.test"] == []
    assert inproc.run(_rows(inproc)) == rows_before
    assert inproc.run(projects()) == projects_before
