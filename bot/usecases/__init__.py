"""Use cases: what a user can do, independent of how Slack shows it.

They take plain values (Slack ids as strings, form fields as dataclasses),
return plain dataclasses, and raise `UseCaseError` subclasses whose message is
ready to show the user. Handlers translate Slack payloads into calls here.
"""
