"""What every listener needs: who is acting, safe Web API calls, reading a view's state.

Nothing here logs a payload or a view's state: only ids, method names and
Slack error codes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot import outbox
from bot.asgi import ACKS_IN_FLIGHT
from bot.runtime import Runtime
from bot.usecases.actor import Actor

log = logging.getLogger("handlers")

JsonDict = dict[str, Any]
ACTOR_TTL = 60.0  # seconds a users.info answer is trusted
OUTBOX_OWNER = f"handlers-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Actors:
    """`Actor(team, user, is_workspace_admin)` from users.info, cached briefly."""

    def __init__(self, ttl: float = ACTOR_TTL) -> None:
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, bool, str]] = {}

    async def get(self, client: AsyncWebClient, team_id: str, user_id: str) -> Actor:
        if not user_id:  # only a forged payload names no user; Slack refuses users.info ""
            return Actor(team_id, user_id, False)
        key = (team_id, user_id)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return Actor(team_id, user_id, cached[1], cached[2])
        is_admin = False
        name = ""
        try:
            response = await client.users_info(user=user_id)
            user = response.get("user") or {}
            is_admin = bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            )
            name = _display_name(user)
            self._cache[key] = (now + self.ttl, is_admin, name)
        except SlackApiError as error:
            log.warning("users.info failed (%s); treating the user as a member", _code(error))
        except Exception as error:
            log.warning(
                "users.info failed (%s); treating the user as a member", type(error).__name__
            )
        if len(self._cache) > 10000:
            self._cache.clear()
        return Actor(team_id, user_id, is_admin, name)


def _display_name(user: Mapping[str, Any]) -> str:
    """The name people see: the profile's display name, else the real name, else the handle."""
    profile = user.get("profile") or {}
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("name")):
        if value:
            return str(value)[:255]
    return ""


def _code(error: SlackApiError) -> str:
    try:
        return str(error.response.get("error", "error"))
    except Exception:
        return "error"


class Views:
    """views.open / views.update / views.publish that never raise into a listener.

    Remembers the latest hash and content of each view it changed, so that a
    `hash_conflict` (the view changed since the payload was sent) can be retried
    once against the newest version, or dropped when the change is stale.
    """

    def __init__(self, size: int = 2000) -> None:
        self._latest: OrderedDict[str, JsonDict] = OrderedDict()
        self._size = size

    def remember(self, view: Mapping[str, Any] | None) -> None:
        if not view or not view.get("id"):
            return
        view_id = str(view["id"])
        self._latest[view_id] = dict(view)
        self._latest.move_to_end(view_id)
        while len(self._latest) > self._size:
            self._latest.popitem(last=False)

    def latest(self, view_id: str) -> JsonDict | None:
        return self._latest.get(view_id)

    async def open(self, client: AsyncWebClient, trigger_id: str, view: View) -> JsonDict | None:
        try:
            response = await client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as error:
            log.warning("views.open failed: %s", _code(error))
            return None
        except Exception as error:
            log.warning("views.open failed: %s", type(error).__name__)
            return None
        opened: JsonDict = response.get("view") or {}
        self.remember(opened)
        return opened

    async def update(
        self,
        client: AsyncWebClient,
        view_id: str,
        build: Callable[[JsonDict | None], View | None] | View,
        *,
        hash: str | None = None,
        current: Mapping[str, Any] | None = None,
    ) -> JsonDict | None:
        """Update a modal; returns the new view (with its hash) or None when not updated.

        `build` receives the view it replaces (the payload's, or on a hash
        conflict the newest this process knows) and returns the new content,
        or None to give up because the update is stale.
        """
        base: JsonDict | None = dict(current) if current is not None else None
        for attempt in (1, 2):
            view = build(base) if callable(build) else build
            if view is None:
                log.info("views.update of %s dropped: stale", view_id)
                return None
            try:
                response = await client.views_update(view_id=view_id, hash=hash, view=view)
            except SlackApiError as error:
                code = _code(error)
                if code == "hash_conflict" and attempt == 1:
                    newer = self.latest(view_id)
                    if newer is not None and newer.get("hash") and newer.get("hash") != hash:
                        base, hash = newer, str(newer["hash"])
                        continue
                    log.info("views.update of %s dropped after hash_conflict", view_id)
                    return None
                log.warning("views.update of %s failed: %s", view_id, code)
                return None
            except Exception as error:
                log.warning("views.update of %s failed: %s", view_id, type(error).__name__)
                return None
            updated: JsonDict = response.get("view") or {}
            self.remember(updated)
            return updated
        return None

    async def publish(self, client: AsyncWebClient, user_id: str, view: View) -> None:
        try:
            response = await client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            log.warning("views.publish failed: %s", _code(error))
            return
        except Exception as error:
            log.warning("views.publish failed: %s", type(error).__name__)
            return
        self.remember(response.get("view"))


async def safe_call(what: str, call: Awaitable[Any]) -> Any:
    """Await a Web API call (chat.postEphemeral, respond...); log a failure, never raise."""
    try:
        return await call
    except SlackApiError as error:
        log.warning("%s failed: %s", what, _code(error))
    except Exception as error:
        log.warning("%s failed: %s", what, type(error).__name__)
    return None


async def deliver_outbox(runtime: Runtime) -> None:
    """Send the channel messages a use case just queued.

    When the scheduler's outbox sender runs in this process it already woke up
    (the use case set `runtime.outbox_ready`): sending here too would race it.
    """
    from bot import scheduling

    if runtime.slack is None or scheduling.running(runtime) is not None:
        return
    try:
        for _ in range(5):  # a post, then the edits and replies waiting for its ts
            if not await outbox.deliver_pending(
                runtime.sessions, runtime.slack, owner=OUTBOX_OWNER
            ):
                break
    except Exception as error:  # the scheduler's outbox loop retries later
        log.warning("outbox delivery failed: %s", type(error).__name__)


def spawn(coro: Awaitable[None]) -> None:
    """Run something after the listener returns (kept referenced until done)."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


_tasks: set[asyncio.Future[None]] = set()


# -- reading payloads -------------------------------------------------------


def row_id(text: str) -> int | None:
    """A database id (or page number) from a value Slack sent back; None when it is not one.

    Values come back from Slack as typed by the bot, but a forged payload may carry
    anything: non-ASCII digits int() refuses, or numbers too big for the database.
    """
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def state_values(view: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    state = view.get("state") or {}
    values = state.get("values") or {}
    return values if isinstance(values, Mapping) else {}


def _entry(view: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = state_values(view).get(block_id) or {}
    entry = block.get(action_id) or {}
    return entry if isinstance(entry, Mapping) else {}


def text_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str:
    value = _entry(view, block_id, action_id).get("value")
    return str(value) if value is not None else ""


def selected_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    chosen = _entry(view, block_id, action_id).get("selected_option")
    if isinstance(chosen, Mapping) and chosen.get("value") is not None:
        return str(chosen["value"])
    return None


def checked_values(view: Mapping[str, Any], block_id: str, action_id: str) -> set[str]:
    chosen = _entry(view, block_id, action_id).get("selected_options") or []
    return {str(o.get("value")) for o in chosen if isinstance(o, Mapping)}


def block_ids(view: Mapping[str, Any]) -> list[str]:
    return [str(b.get("block_id")) for b in view.get("blocks") or [] if isinstance(b, Mapping)]


def input_block_ids(view: Mapping[str, Any]) -> list[str]:
    return [
        str(b.get("block_id"))
        for b in view.get("blocks") or []
        if isinstance(b, Mapping) and b.get("type") == "input"
    ]


def block_text(view: Mapping[str, Any] | None, block_id: str) -> str | None:
    """The mrkdwn text of a section/context block of a view (to carry a result over)."""
    for block in (view or {}).get("blocks") or []:
        if not isinstance(block, Mapping) or block.get("block_id") != block_id:
            continue
        if isinstance(block.get("text"), Mapping):
            return str(block["text"].get("text", "")) or None
        for element in block.get("elements") or []:
            if isinstance(element, Mapping) and element.get("text"):
                return str(element["text"])
    return None


def team_of(body: Mapping[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, Mapping) and team.get("id"):
        return str(team["id"])
    if body.get("team_id"):
        return str(body["team_id"])
    user = body.get("user")
    if isinstance(user, Mapping) and user.get("team_id"):
        return str(user["team_id"])
    return ""


def user_of(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id", ""))
    return str(body.get("user_id") or user or "")


def channel_of(body: Mapping[str, Any]) -> str | None:
    channel = body.get("channel")
    if isinstance(channel, Mapping) and channel.get("id"):
        return str(channel["id"])
    container = body.get("container")
    if isinstance(container, Mapping) and container.get("channel_id"):
        return str(container["channel_id"])
    return None


def field_errors(
    errors: Mapping[str, str], mapping: Mapping[str, str], view: Mapping[str, Any], fallback: str
) -> dict[str, str]:
    """Use-case field errors -> {block_id: message} for blocks present in the view.

    Slack refuses errors for block ids the view does not have; those messages
    go under `fallback` (an input block that is always there).
    """
    present = set(input_block_ids(view))
    out: dict[str, str] = {}
    for field, message in errors.items():
        block_id = mapping.get(field, fallback)
        if block_id not in present:
            block_id = fallback if fallback in present else next(iter(present), fallback)
        out[block_id] = (out[block_id] + " " + message) if block_id in out else message
    return {k: v[:2000] for k, v in out.items()}


class Deps:
    """The shared objects each listener module gets."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.actors = Actors()
        self.views = Views()

    async def actor(self, client: AsyncWebClient, body: Mapping[str, Any]) -> Actor:
        return await self.actors.get(client, team_of(body), user_of(body))


ListenerFn = Callable[..., Awaitable[None]]


class AfterAckGate:
    """Admits a few listeners at a time to the work they do after acking.

    Listeners share one event loop with the request path that acks Slack. Unbounded,
    a burst of requests each starting milliseconds of CPU work after its ack (SQL,
    Block Kit, Web API calls) delays the acks of the requests behind it; measured with
    50 concurrent clients in bench/ack.py. A slot is held while that work runs, but
    for `hold` seconds at most: work waiting on a slow registry gives its slot back
    early, so it never keeps anyone else waiting long.
    """

    def __init__(self, slots: int = 1, hold: float = 0.25) -> None:
        self.slots = slots
        self.hold = hold
        self._semaphore: asyncio.Semaphore | None = None

    async def enter(self) -> Callable[[], None]:
        """Wait for a slot, and for the acks in flight to be sent (`hold` seconds at
        most); returns the function that gives the slot back (idempotent)."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        semaphore = self._semaphore
        await semaphore.acquire()
        await ACKS_IN_FLIGHT.wait_until_idle(self.hold)
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                semaphore.release()

        timer = asyncio.get_running_loop().call_later(self.hold, give_back)

        def leave() -> None:
            timer.cancel()
            give_back()

        return leave


AFTER_ACK = AfterAckGate()


def guarded(listener: ListenerFn) -> ListenerFn:
    """Catch what escapes a listener: log its kind (never the payload), and if Slack has
    not been answered yet, answer so the user sees a message rather than an error."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        ack = kwargs.get("ack")
        leave: Callable[[], None] | None = None
        if ack is not None:

            async def ack_then_wait_for_a_slot(*args: Any, **kw: Any) -> None:
                nonlocal leave
                await ack(*args, **kw)
                leave = await AFTER_ACK.enter()

            kwargs["ack"] = ack_then_wait_for_a_slot
        try:
            await listener(**kwargs)
        except Exception as error:
            log.error(
                "listener %s failed: %s",
                listener.__name__,
                type(error).__name__,
                exc_info=(type(error), error, error.__traceback__),
            )
            if ack is None or getattr(ack, "response", None) is not None:
                return
            body = kwargs.get("body") or {}
            if isinstance(body, Mapping) and body.get("type") == "view_submission":
                from handlers.ui.common import notice_view

                await ack(
                    response_action="update",
                    view=notice_view(
                        "Image repositories",
                        ":x: Something went wrong on our side (it was logged). Try again.",
                    ),
                )
            else:
                await ack()
        finally:
            if leave is not None:
                leave()

    return run
