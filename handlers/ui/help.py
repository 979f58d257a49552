"""The help text of `/imagerepo`."""

from __future__ import annotations

from registry import tool_kinds_text

_TOOLS = tool_kinds_text("and")  # the kinds of registered tool, from registry.kinds

HELP = f"""*`/imagerepo` manages the container image repositories of this channel's project.*
• `/imagerepo project create NAME`: bind a new project to this channel (you become its admin)
• `/imagerepo project admin add @user` / `project admin remove @user`: manage its admins
• `/imagerepo add`: add an app image repository (CI pushes to it)
• `/imagerepo add-pull`: add a pull-only image repository
• `/imagerepo list`: the repositories, their health, and Connection Test / Change account / Delete
• `/imagerepo check`: test every saved connection now
• `/imagerepo tools`: the registered {_TOOLS} instances (workspace admins manage them)
• `/imagerepo audit`: who changed what in this project, and with what result (its admins)
• `/imagerepo help`: this text
The same list is on the app's *Home* tab."""
