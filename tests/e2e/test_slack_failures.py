"""The Slack API failing: rate limits, stale views (hash_conflict), expired triggers,
refused payloads and an unreachable API. Listeners never crash, the user is told."""

from __future__ import annotations

from tests.e2e.flow import Flow, labels, texts
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import find_input, static_select_action
from tests.support.waiting import wait_until


async def test_ratelimited_views_open_is_retried_after_retry_after(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    await flow.create_project("ratelimit-e2e")
    standin.rate_limit_next("views.open", retry_after=1)
    await flow.command("add")
    calls = await standin.wait_for_async("views.open", 2, timeout=10)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.9  # Retry-After honoured
    assert calls[1].response["view"]["title"]["text"] == "Add image repository"


async def test_an_expired_trigger_is_reported_to_the_user(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    await flow.create_project("trigger-e2e")
    standin.fail_next("views.open", "expired_trigger_id")
    reply = await flow.command_reply("add")
    assert "Slack did not open the window" in reply


async def test_a_stale_update_is_retried_once_on_the_newest_view(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    await flow.create_project("stale-e2e")
    view = await flow.open_modal("add")
    hub = await flow.choose(view, "Repository type", "dockerhub")
    # A second choice arrives carrying the first version of the modal (an old hash).
    ref = find_input(view, "Repository type")
    await flow.client.action(
        [static_select_action(ref.action_id, ref.block_id, "harbor")], view=view
    )
    conflict = await flow.next_call("views.update")
    assert conflict.error == "hash_conflict"
    retried = await flow.next_update()
    assert standin.calls_to("views.update")[-1].params["hash"] == hub["hash"]
    assert "Registry URL" not in labels(retried) and "No Harbor instance" in texts(retried)


async def test_failed_updates_are_logged_and_the_listeners_keep_working(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    await flow.create_project("failing-update-e2e")
    view = await flow.open_modal("add")
    # Slack refuses the reshape (an injected conflict with no newer version known: dropped).
    standin.fail_next("views.update", "hash_conflict")
    ref = find_input(view, "Repository type")
    response = await flow.client.action(
        [static_select_action(ref.action_id, ref.block_id, "dockerhub")], view=view
    )
    assert response.status_code == 200
    assert (await flow.next_call("views.update")).error == "hash_conflict"
    # An error Slack may answer for any reason: logged, not raised.
    standin.fail_next("views.update", "internal_error")
    await flow.client.action(
        [static_select_action(ref.action_id, ref.block_id, "dockerhub")], view=view
    )
    assert (await flow.next_call("views.update")).error == "internal_error"
    # The same modal still works.
    hub = await flow.choose(view, "Repository type", "dockerhub")
    assert "Docker Hub registry" in texts(hub)
    log = flow.bot.log()
    assert "views.update of" in log and "hash_conflict" in log and "internal_error" in log
    assert "Traceback" not in log


async def test_an_unreachable_slack_api_does_not_break_the_bot(
    flow: Flow, standin: SlackApiStandIn
) -> None:
    await flow.create_project("down-e2e")
    gave_up = flow.bot.log().count("views.open failed")
    standin.set_down(True)
    try:
        response = await flow.command("add")
        assert response.status_code == 200

        async def retries_gave_up() -> bool:
            return flow.bot.log().count("views.open failed") > gave_up

        # Until the bot gave up (not a fixed sleep): a retry still under way when the API
        # came back would open a modal during the next test.
        await wait_until(retries_gave_up, "the bot gives up views.open")
    finally:
        standin.set_down(False)
    view = await flow.open_modal("add")
    assert "Repository type" in labels(view)


async def test_a_forged_submission_gets_an_answer_never_a_500(flow: Flow) -> None:
    broken = {
        "id": "VBROKEN",
        "type": "modal",
        "callback_id": "repository_delete",
        "private_metadata": "{not json",
        "blocks": [],
        "hash": "1.x",
    }
    response = await flow.client.submit(broken, {})
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "update"
    assert texts(answer["view"])  # a sentence for the user, whatever went wrong


async def test_an_exception_in_a_listener_is_logged_and_answered() -> None:
    """`guarded` (wrapping every listener): Slack still gets an answer, the log gets the kind."""
    import logging

    from handlers.guard import guarded

    answers: list[dict[str, object]] = []

    class Ack:
        response = None

        async def __call__(self, **kwargs: object) -> None:
            answers.append(kwargs)
            self.response = object()  # type: ignore[assignment]

    @guarded
    async def listener(ack: Ack, body: dict[str, object]) -> None:
        raise KeyError("boom")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("handlers").addHandler(handler)
    try:
        await listener(ack=Ack(), body={"type": "view_submission", "view": {"state": "x"}})
    finally:
        logging.getLogger("handlers").removeHandler(handler)
    assert answers[0]["response_action"] == "update"
    assert "Something went wrong" in str(answers[0]["view"].to_dict())  # type: ignore[attr-defined]
    assert [r.getMessage() for r in records] == ["listener listener failed: KeyError"]
