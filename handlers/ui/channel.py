"""Channel messages: the words and the Block Kit of what bot/ decided to tell a channel.

`render` turns a `bot.notices` value (an entry added or deleted, an incident's alert,
its recovery, a credential's expiry) into the message's text and blocks. Every name,
URL and registry message goes through the one text boundary (`handlers.ui.text`):
escaped, neutralised, and cut after escaping so that a sentence keeps its end within
Slack's 3,000 characters even with the longest values a form ever accepted. Never a
secret: only names, URLs, kinds and times.
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
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.notices import (
    EntryFacts,
    ExpiryReplaced,
    ExpiryWarning,
    FailingAlert,
    Notice,
    PullsLow,
    RecoveredAlert,
    RecoveredReply,
    RepositoryAdded,
    RepositoryDeleted,
)
from bot.usecases.alerts import SNOOZE_CHOICES
from handlers import ids
from handlers.ui.i18n import N_, _, counted
from handlers.ui.registry_words import error_kind_words, translated_failure
from handlers.ui.text import MESSAGE_TEXT_MAX, clip_mrkdwn, code, mrkdwn
from registry import RegistryType, type_info
from storage.enums import RepositoryAccess

# How much of a repository path and of a registry URL a channel message shows (escaped
# characters, backticks included).
REPOSITORY_MAX = 600
URL_MAX = 900
# How much of a registry's error an alert quotes, and of an account's name an expiry
# warning shows (escaped characters).
REASON_MAX = 1500
USERNAME_MAX = 300
# Snooze menu labels, by the choice's value (the durations are bot/usecases/alerts.py's).
SNOOZE_LABELS = {"1h": N_("1 hour"), "1d": N_("1 day"), "recovered": N_("Until it recovers")}


@dataclass(frozen=True)
class ChannelMessage:
    text: str
    blocks: list[Block]


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


def access_text(access: str) -> str:
    """The one word for an entry's access, in the channel and in the UI."""
    return _("pull-only") if access == RepositoryAccess.PULL_ONLY else _("app")


def access_label(access: str) -> str:
    if access == RepositoryAccess.PULL_ONLY:
        return _("pull-only repository")
    return _("app repository")


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
    if seconds >= 86400:
        return counted("{count} day", "{count} days", seconds // 86400, grouped=False)
    if seconds >= 3600:
        return _("{count} h").format(count=seconds // 3600)
    if seconds >= 60:
        return _("{count} min").format(count=seconds // 60)
    return _("{count} s").format(count=seconds)


def expiry_days(expires_at: datetime, now: datetime) -> int:
    """Whole days left, rounded up (0 once expired)."""
    seconds = (expires_at - now).total_seconds()
    return max(0, int(-(-seconds // 86400)))


def describe(entry: EntryFacts) -> str:
    return _("{repository} on {url}").format(
        repository=code(entry.repository, REPOSITORY_MAX), url=code(entry.registry_url, URL_MAX)
    )


def _section(block_id: str, text: str) -> SectionBlock:
    """A section cut to Slack's 3,000 characters (never inside an entity or a token)."""
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=clip_mrkdwn(text)))


def _context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=clip_mrkdwn(text))])


def _one(block_id: str, text: str) -> ChannelMessage:
    return ChannelMessage(
        text=clip_mrkdwn(text, MESSAGE_TEXT_MAX), blocks=[_section(block_id, text)]
    )


def snooze_text(entry: EntryFacts, now: datetime) -> str | None:
    """ "Snoozed by @x until …", or None when no snooze is in force."""
    if entry.snoozed_by is None:
        return None
    if entry.snooze_until_recovered:
        return _("Snoozed by <@{user}> until it recovers").format(user=entry.snoozed_by)
    if entry.snoozed_until is not None and entry.snoozed_until > now:
        return _("Snoozed by <@{user}> until {when}").format(
            user=entry.snoozed_by, when=slack_date(entry.snoozed_until)
        )
    return None


def _actions(entry: EntryFacts, *, snooze: bool = True) -> ActionsBlock:
    elements: list[ButtonElement | StaticSelectElement] = [
        ButtonElement(
            text=_("Connection Test"), action_id=ids.A_ALERT_TEST_IN_THREAD, value=str(entry.id)
        ),
        ButtonElement(text=_("Change account"), action_id=ids.A_ALERT_ACCOUNT, value=str(entry.id)),
    ]
    if snooze:
        elements.append(
            StaticSelectElement(
                action_id=ids.A_ALERT_SNOOZE,
                placeholder=PlainTextObject(text=_("Snooze")),
                options=[
                    Option(
                        value=f"{entry.id}:{c.value}",
                        text=PlainTextObject(
                            text=_(SNOOZE_LABELS[c.value]) if c.value in SNOOZE_LABELS else c.value
                        ),
                    )
                    for c in SNOOZE_CHOICES
                ],
            )
        )
    return ActionsBlock(block_id="alert_actions", elements=elements)


def repository_added(notice: RepositoryAdded) -> ChannelMessage:
    """`<@user> added the app repository NAME on URL (TYPE): STATUS.`"""
    entry = notice.entry
    status = (
        _("connection test passed")
        if notice.healthy
        else _("saved *without a passing connection test*")
    )
    text = _("<@{user}> added the {access} {entry} ({type}): {status}.").format(
        user=notice.user_id,
        access=access_label(entry.access),
        entry=describe(entry),
        type=type_label(entry.registry_type),
        status=status,
    )
    return _one("added", text)


def repository_deleted(notice: RepositoryDeleted) -> ChannelMessage:
    """`<@user> deleted the app repository NAME on URL from the list ...`"""
    said = (
        _("<@{user}> deleted the {access} {entry} from the list and from the image registry.")
        if notice.in_registry
        else _(
            "<@{user}> deleted the {access} {entry} from the list (the image registry keeps it)."
        )
    )
    entry = notice.entry
    text = said.format(
        user=notice.user_id, access=access_label(entry.access), entry=describe(entry)
    )
    return _one("deleted", text)


def failing_alert(notice: FailingAlert) -> ChannelMessage:
    """The incident's message while it lasts: the latest error and "failing since"."""
    entry, since, now = notice.entry, notice.since, notice.now
    kind = error_kind_words(entry.last_error_kind or "error")
    said = translated_failure(entry.last_message) if entry.last_message else None
    reason = mrkdwn(said or _("the connection test failed"), REASON_MAX)
    text = _(":red_circle: The connection to {entry} is failing ({kind}) since {since}.").format(
        entry=describe(entry), kind=kind, since=slack_date(since)
    )
    detail = _("Latest error: {reason}\n{checks} in a row, the last {when}.").format(
        reason=reason,
        checks=counted("{count} failed check", "{count} failed checks", entry.consecutive_failures),
        when=slack_date(entry.last_checked_at or now),
    )
    blocks: list[Block] = [_section("failing", text), _context("reason", detail)]
    snoozed = snooze_text(entry, now)
    if snoozed:
        blocks.append(
            _context(
                "snoozed", _(":zzz: {snoozed}: no new alert meanwhile.").format(snoozed=snoozed)
            )
        )
    blocks.append(_actions(entry))
    return ChannelMessage(text=text, blocks=blocks)


def recovered_alert(notice: RecoveredAlert) -> ChannelMessage:
    """The incident's message once it is over (its buttons removed)."""
    since, now = notice.since, notice.now
    text = _(
        ":large_green_circle: The connection to {entry} was failing from "
        "{since} and recovered {now}: down for {down}."
    ).format(
        entry=describe(notice.entry),
        since=slack_date(since),
        now=slack_date(now),
        down=humanize(now - since),
    )
    return _one("recovered", text)


def recovered_reply(notice: RecoveredReply) -> ChannelMessage:
    text = _(":large_green_circle: The connection to {entry} recovered after {down}.").format(
        entry=describe(notice.entry), down=humanize(notice.failing_for)
    )
    return _one("recovered", text)


def expiry_warning(notice: ExpiryWarning) -> ChannelMessage:
    """The expiry incident's message (7 days before) and its thread reply (1 day before)."""
    entry = notice.entry
    days = expiry_days(notice.expires_at, notice.now)
    account = code(entry.username, USERNAME_MAX) if entry.username else _("The account")
    text = _(
        ":hourglass_flowing_sand: {account} used for {entry} expires in "
        "{days} ({when}). Change the account before then."
    ).format(
        account=account,
        entry=describe(entry),
        days=counted("{count} day", "{count} days", days),
        when=slack_date(notice.expires_at),
    )
    blocks: list[Block] = [_section(f"expiry_{notice.threshold}", text)]
    if not notice.in_thread:
        blocks.append(_actions(entry, snooze=False))
    return ChannelMessage(text=text, blocks=blocks)


def expiry_replaced(notice: ExpiryReplaced) -> ChannelMessage:
    text = _(":white_check_mark: The account used for {entry} was replaced or renewed.").format(
        entry=describe(notice.entry)
    )
    return _one("expiry_done", text)


def pulls_low(notice: PullsLow) -> ChannelMessage:
    """The registry's quota in digits and words from registry.results.PullQuota.describe."""
    text = _(
        ":warning: {type} pulls are running low for the account used by "
        "{entry}: {quota}. Pulls fail with HTTP 429 once none are left."
    ).format(
        type=type_info(notice.entry.registry_type).label,
        entry=describe(notice.entry),
        quota=mrkdwn(notice.quota, 200),
    )
    return _one("pulls_low", text)


def render(notice: Notice) -> ChannelMessage:
    """The words and blocks of `notice`."""
    match notice:
        case RepositoryAdded():
            return repository_added(notice)
        case RepositoryDeleted():
            return repository_deleted(notice)
        case FailingAlert():
            return failing_alert(notice)
        case RecoveredAlert():
            return recovered_alert(notice)
        case RecoveredReply():
            return recovered_reply(notice)
        case ExpiryWarning():
            return expiry_warning(notice)
        case ExpiryReplaced():
            return expiry_replaced(notice)
        case PullsLow():
            return pulls_low(notice)


def test_reply(user_id: str, result_text: str) -> ChannelMessage:
    """A Connection Test run from the alert, in its thread."""
    said = _("<@{user}> ran a connection test:").format(user=user_id)
    return _one("test_result", f"{said}\n{result_text}")


def late_note(queued_at: datetime) -> ContextBlock:
    return ContextBlock(
        block_id="late",
        elements=[
            MarkdownTextObject(
                text=_(
                    ":hourglass: Delivered late: queued {when}, "
                    "while I could not post in this channel."
                ).format(when=slack_date(queued_at))
            )
        ],
    )


def late_text(text: str) -> str:
    return clip_mrkdwn(_("(Delivered late) {text}").format(text=text), MESSAGE_TEXT_MAX)
