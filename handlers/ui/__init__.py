"""Block Kit builders (slack_sdk.models): views and messages, no Slack calls, no I/O."""
