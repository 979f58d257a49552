"""The composition root: the Slack app, its ASGI router, the CLI, serving and the
scheduler's wiring. It imports every other package; none imports it."""
