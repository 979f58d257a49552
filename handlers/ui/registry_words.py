"""The bot's own words around what a registry said: error kinds and the lead-in of a
failed Connection Test ("Sign-in failed: ..."), in the reader's language.

`registry/` writes them in English (the CLI, the database and the English contract
read them there); handlers map them here by step id and error kind, so registry code
keeps no translations and the registry's own message stays as the server wrote it.
"""

from __future__ import annotations

from handlers.ui.i18n import N_, _
from registry.results import STEP_FAILED

# The English msgid of each kind is its stored value with spaces, exactly what an English
# reader saw before (`authentication_failed` -> "authentication failed").
ERROR_KIND_WORDS = {
    "invalid_url": N_("invalid url"),
    "refused_target": N_("refused target"),
    "dns_failure": N_("dns failure"),
    "connection_refused": N_("connection refused"),
    "network_error": N_("network error"),
    "timeout": N_("timeout"),
    "tls_error": N_("tls error"),
    "not_a_registry": N_("not a registry"),
    "authentication_failed": N_("authentication failed"),
    "permission_denied": N_("permission denied"),
    "repository_not_found": N_("repository not found"),
    "invalid_repository": N_("invalid repository"),
    "rate_limited": N_("rate limited"),
    "registry_error": N_("registry error"),
    "delete_unsupported": N_("delete unsupported"),
    "already_exists": N_("already exists"),
    "unsupported_operation": N_("unsupported operation"),
    "origin_changed": N_("origin changed"),
    "protocol": N_("protocol"),
    "error": N_("error"),
}

# registry.results.STEP_FAILED's English lead-ins, as msgids (test_texts checks they match).
STEP_FAILED_WORDS = {
    "reachable": N_("Not reachable"),
    "authenticated": N_("Sign-in failed"),
    "pull": N_("Pull failed"),
    "push": N_("Push failed"),
}

# What registry/service.py writes in a step that did not run.
SKIPPED_WORDS = {
    "not tested: an earlier step failed": N_("not tested: an earlier step failed"),
    "not tested": N_("not tested"),
}


def error_kind_words(kind: str) -> str:
    """An error kind's stored value as words the reader reads ("authentication failed")."""
    words = ERROR_KIND_WORDS.get(kind)
    return _(words) if words else kind.replace("_", " ")


def split_failure(message: str) -> tuple[str, str] | None:
    """A failed test's summary ("Sign-in failed: <the registry's message>") as its lead-in
    in the reader's language and the rest as written; None when it has no known lead-in."""
    for step, lead in STEP_FAILED.items():
        if message.startswith(lead + ": ") and step in STEP_FAILED_WORDS:
            return _(STEP_FAILED_WORDS[step]), message[len(lead) + 2 :]
    return None


def translated_failure(message: str) -> str:
    """`message` with its lead-in translated (English: unchanged)."""
    parts = split_failure(message)
    return message if parts is None else f"{parts[0]}: {parts[1]}"


def skipped_words(detail: str) -> str:
    """A skipped step's "not tested ..." in the reader's language."""
    words = SKIPPED_WORDS.get(detail)
    return _(words) if words else detail
