"""The help text of `/imagerepo`."""

from __future__ import annotations

from handlers.ui.i18n import N_, _

HELP = N_(
    """*`/imagerepo` manages the container image repositories of this channel's project.*
• `/imagerepo project create NAME`: bind a new project to this channel (you become its admin)
• `/imagerepo project admin add @user` / `project admin remove @user`: manage its admins
• `/imagerepo project language ko|en`: the language of its channel messages (its admins)
• `/imagerepo add`: add an app image repository (CI pushes to it)
• `/imagerepo add-pull`: add a pull-only image repository
• `/imagerepo list`: the repositories, their health, and Connection Test / Change account / Delete
• `/imagerepo check`: test every saved connection now
• `/imagerepo tools`: the registered Harbor instances (workspace admins manage them)
• `/imagerepo audit`: who changed what in this project, and with what result (its admins)
• `/imagerepo help`: this text
The same list is on the app's *Home* tab.
You are answered in your Slack language (한국어 or English)."""
)


def help_text() -> str:
    """The help in this request's language."""
    return _(HELP)
