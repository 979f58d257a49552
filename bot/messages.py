"""Channel messages (text + Block Kit) for the events a project's channel hears about.

Built with `slack_sdk.models` so lengths and shapes are validated before sending;
names, URLs and registry messages go through `bot.slacktext` (escaped, cut to
Slack's lengths). No message ever carries a secret: only names, URLs, kinds and times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slacktext import TEXT_MAX, clip_mrkdwn, code, mrkdwn
from registry import RegistryType, type_info
from storage.enums import RepositoryAccess
from storage.models import ImageRepository

# The button under an alert; handlers listen for this action id.
ACTION_TEST_FROM_ALERT = "alert_connection_test"


@dataclass(frozen=True)
class ChannelMessage:
    text: str
    blocks: list[Block]


def access_text(access: str) -> str:
    """The one word for an entry's access, in the channel and in the UI."""
    return "pull-only" if access == RepositoryAccess.PULL_ONLY else "app"


def access_label(access: str) -> str:
    return f"{access_text(access)} repository"


def type_label(registry_type: str) -> str:
    try:
        return type_info(RegistryType(registry_type)).label
    except ValueError:
        return registry_type


def slack_date(moment: datetime) -> str:
    """Slack renders this in each reader's own time zone."""
    stamp = int(moment.timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def humanize(duration: timedelta) -> str:
    seconds = max(int(duration.total_seconds()), 0)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
    return f"{seconds} s"


# How much of a repository path and of a registry URL a channel message shows (escaped
# characters, backticks included): a sentence keeps its end (times, what to do) within
# Slack's 3,000 characters even with the longest values a form accepted.
REPOSITORY_MAX = 600
URL_MAX = 900


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 image repository", "2 image repositories", "1 failed check", "3 failed checks"."""
    if count == 1:
        return f"{count} {singular}"
    if plural_form is None:
        if singular.endswith("y") and singular[-2:-1] not in ("a", "e", "o", "u"):
            plural_form = singular[:-1] + "ies"
        else:
            plural_form = singular + "s"
    return f"{count:,} {plural_form}"


def describe(repo: ImageRepository) -> str:
    return f"{code(repo.repository, REPOSITORY_MAX)} on {code(repo.registry_url, URL_MAX)}"


def _section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=clip_mrkdwn(text)))


def _did_to(repo: ImageRepository, user_id: str, verb: str, rest: str) -> ChannelMessage:
    """A person's change to an entry: `<@user> VERB the app repository NAME on URL REST.`;
    the verb is also the block id."""
    text = f"<@{user_id}> {verb} the {access_label(repo.access)} {describe(repo)} {rest}."
    return ChannelMessage(text=text, blocks=[_section(verb, text)])


def repository_added(repo: ImageRepository, *, user_id: str, healthy: bool) -> ChannelMessage:
    status = "connection test passed" if healthy else "saved *without a passing connection test*"
    return _did_to(repo, user_id, "added", f"({type_label(repo.registry_type)}): {status}")


def repository_deleted(repo: ImageRepository, *, user_id: str, in_registry: bool) -> ChannelMessage:
    where = " and from the image registry" if in_registry else " (the image registry keeps it)"
    return _did_to(repo, user_id, "deleted", f"from the list{where}")


def repository_failing(repo: ImageRepository, *, since: datetime) -> ChannelMessage:
    kind = (repo.last_error_kind or "error").replace("_", " ")
    reason = mrkdwn(repo.last_message or "the connection test failed", TEXT_MAX)
    text = (
        f":red_circle: The connection to {describe(repo)} is failing ({kind}) "
        f"since {slack_date(since)}."
    )
    return ChannelMessage(
        text=text,
        blocks=[
            _section("failing", text),
            ContextBlock(block_id="reason", elements=[MarkdownTextObject(text=reason)]),
            ActionsBlock(
                block_id="alert_actions",
                elements=[
                    ButtonElement(
                        text="Connection Test", action_id=ACTION_TEST_FROM_ALERT, value=str(repo.id)
                    )
                ],
            ),
        ],
    )


def repository_recovered(repo: ImageRepository, *, failing_for: timedelta) -> ChannelMessage:
    text = (
        f":large_green_circle: The connection to {describe(repo)} recovered after "
        f"{humanize(failing_for)}."
    )
    return ChannelMessage(text=text, blocks=[_section("recovered", text)])
