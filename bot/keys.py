"""Where the encryption keys come from: IMAGEREPO_SECRET_KEYS, or a dev key file."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings, SettingsError
from storage.crypto import SecretBox, SecretKeyError, load_or_create_key_file


def key_file_path(settings: Settings) -> Path | None:
    """`imagerepo.db` keeps its generated key in `imagerepo.db.key` beside it."""
    db = settings.sqlite_path
    return None if db is None else db.with_name(db.name + ".key")


def secret_box(settings: Settings) -> SecretBox:
    """Build the MultiFernet box, or raise SettingsError with one actionable line."""
    keys = settings.secret_keys
    if not keys:
        path = key_file_path(settings)
        if path is None:
            raise SettingsError(
                "IMAGEREPO_SECRET_KEYS must be set when DATABASE_URL is not a SQLite file: "
                "every instance needs the same key to read the credentials."
            )
        try:
            keys = (load_or_create_key_file(path),)
        except OSError as error:
            raise SettingsError(
                f"cannot read or create the key file {path}: {error.strerror}"
            ) from None
    try:
        return SecretBox(keys)
    except SecretKeyError as error:
        raise SettingsError(str(error)) from None
