"""The one text boundary to Slack: escaping and cutting to Slack's lengths, in one place.

Every builder in `handlers.ui` (channel messages in `handlers.ui.channel`, modals, the
list and the App Home) puts user- and registry-supplied text into Slack through one
function per context: `mrkdwn` (prose), `plain_text` (plain_text objects) and `code`
(an inline code span), so that

* a name can never inject markup: `&`, `<` and `>` are HTML-escaped (Slack's
  documented escaping, so `<http://x|y>`, `<@U1>` and `<!channel>` stay text),
  and the mrkdwn formatting characters `*`, `_`, `~` and the backtick are swapped
  for look-alikes wherever they could open or close bold, italic, strike or code
  (Slack has no backslash escape). Inside a word (`my_project`, `NAME_UNKNOWN`)
  they cannot format, so they are kept and names stay readable;
* a long value is cut with "…" before Slack would refuse the whole view, by characters
  after escaping, and a cut never splits an `&amp;` entity or a `<!date…>` token in half.

The limits below are Slack's published ones (docs.slack.dev Block Kit reference);
the test stand-in (tests/support/slack_limits.py) holds the cited table and
checks that nothing the builders produce exceeds it.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# Slack's limits the builders cut to (characters).
TEXT_MAX = 3000  # a section's text, any text object
FIELD_MAX = 2000  # a section field
LABEL_MAX = 2000  # an input block's label
HINT_MAX = 2000  # an input block's hint
OPTION_TEXT_MAX = 75  # an option's text, a button's text
OPTION_VALUE_MAX = 150  # an option's value
PLACEHOLDER_MAX = 150
HEADER_MAX = 150
VIEW_TITLE_MAX = 24  # a modal's title, submit and close
MESSAGE_TEXT_MAX = 40_000  # a message's top-level text
INPUT_MAX = 3000  # plain_text_input max_length

# Look-alikes that mrkdwn does not treat as formatting.
_LOOKALIKE = {"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"}
_FORMAT_CHARS = frozenset(_LOOKALIKE)


def escape_html(text: str) -> str:
    """Slack's three control characters, as its docs say to escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _neutralise(text: str) -> str:
    """Swap formatting characters that sit at a word boundary (where they could format)."""
    if not _FORMAT_CHARS.intersection(text):
        return text
    out: list[str] = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char in _FORMAT_CHARS:
            before = text[index - 1] if index > 0 else " "
            after = text[index + 1] if index < last else " "
            if char == "`" or not (before.isalnum() and after.isalnum()):
                char = _LOOKALIKE[char]
        out.append(char)
    return "".join(out)


# The product's own command hints inside its messages ("Create one with
# `/imagerepo project create NAME`.") stay code spans; nothing else can open one.
_COMMAND_HINT = re.compile(r"(`/imagerepo[A-Za-z0-9 @/._-]*`)")


def escape(text: str) -> str:
    """A value shown inside mrkdwn prose: no link, mention or formatting can come from it."""
    parts = _COMMAND_HINT.split(escape_html(text))
    return "".join(part if index % 2 else _neutralise(part) for index, part in enumerate(parts))


def mrkdwn(text: str, limit: int | None = None) -> str:
    """The text boundary for mrkdwn prose: `escape`, then cut to `limit` characters of the
    escaped text (never inside an entity), ending with "…" when it was longer."""
    return clip_escaped(escape(text), limit)


def plain_text(text: str, limit: int | None = None) -> str:
    """The text boundary for plain_text objects: Slack shows them as typed (no entities,
    no formatting), so only the length is cut, by characters, with "…"."""
    return clip(text, limit)


def code(text: str, limit: int | None = None) -> str:
    """The text boundary for an inline code span (repository paths, URLs, user names):
    exact characters, no markup. `limit` counts the whole span, backticks included.

    Slack does not format inside a code span, so only `&<>` are escaped and a
    backtick (which would close the span) is swapped; the cut comes after escaping.
    """
    inner = escape_html(text).replace("`", _LOOKALIKE["`"])
    if limit is not None:
        inner = clip_escaped(inner, max(limit - 2, 1))  # a limit under 3 still shows "`…`"
    return "`" + inner + "`"


def name(text: str, limit: int | None = None) -> str:
    """`mrkdwn` under its older name."""
    return mrkdwn(text, limit)


def clip(text: str, limit: int | None) -> str:
    """Plain text cut to `limit` characters, ending with "…" when it was longer."""
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def clip_escaped(text: str, limit: int | None) -> str:
    """Escaped text (no markup of its own) cut to `limit` characters, never inside an
    `&amp;` / `&lt;` / `&gt;` entity, ending with "…" when it was longer."""
    if limit is None or len(text) <= limit:
        return text
    return _OPEN_ENTITY.sub("", text[: max(limit - 1, 0)]) + ELLIPSIS


_OPEN_ENTITY = re.compile(r"&[a-z]*$")


def clip_mrkdwn(text: str, limit: int = TEXT_MAX) -> str:
    """mrkdwn cut to `limit` characters without splitting an entity or a `<…>` token."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    open_token = head.rfind("<")
    if open_token > head.rfind(">"):
        head = head[:open_token]
    head = _OPEN_ENTITY.sub("", head)
    if head.count("`") % 2:  # do not leave a code span open
        head = head[: head.rfind("`")]
    return head + ELLIPSIS
