"""Encryption of stored secrets with `cryptography`'s MultiFernet.

The first key encrypts; every key decrypts, which is what makes rotation possible:
add a new key in front, run `imagerepo-bot rotate-keys`, then drop the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)


class SecretKeyError(Exception):
    """The keys are malformed, or a stored secret cannot be decrypted with them."""


class SecretBox:
    """Encrypts and decrypts secrets; never logs or returns ciphertext as plaintext."""

    def __init__(self, keys: tuple[str, ...] | list[str]) -> None:
        if not keys:
            raise SecretKeyError("IMAGEREPO_SECRET_KEYS holds no key")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                raise SecretKeyError(
                    f"IMAGEREPO_SECRET_KEYS: key #{position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with "
                    "python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                ) from None
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)
        self._primary_key = keys[0].encode()

    def derive_key(self, purpose: str) -> bytes:
        """A key for another job (e.g. keyed digests), the same on every instance."""
        return hmac.new(self._primary_key, purpose.encode(), hashlib.sha256).digest()

    def hkdf_key(self, purpose: str) -> bytes:
        """A 32-byte key derived by HKDF-SHA256 from the first key, one per `purpose`
        (the audit trail's credential fingerprints): same keys, same fingerprints."""
        return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._primary_key
        )

    def encrypt(self, plaintext: str) -> str:
        return self._all.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str, *, what: str) -> str:
        """Decrypt, naming `what` (e.g. "password of repository 7") when no key fits."""
        try:
            return self._all.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"cannot decrypt the {what}: none of the keys in IMAGEREPO_SECRET_KEYS "
                "encrypted it (was a key removed before `imagerepo-bot rotate-keys` ran?)"
            ) from None

    def is_current(self, ciphertext: str) -> bool:
        """True when the first key alone decrypts it, so rotation can skip it."""
        try:
            self._primary.decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str, *, what: str) -> str:
        """Re-encrypt with the first key (the plaintext never leaves this object)."""
        try:
            return self._all.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"cannot rotate the {what}: none of the keys in IMAGEREPO_SECRET_KEYS encrypted it"
            ) from None


def load_or_create_key_file(path: Path) -> str:
    """The development fallback: one key kept in a 0600 file beside the SQLite database."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("key file %s is readable by others (mode %o); fixing to 0600", path, mode)
            path.chmod(0o600)
        key = path.read_text().strip()
        if not key:
            raise SecretKeyError(
                f"the key file {path} is empty; remove it only if no secret uses it"
            )
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning(
        "IMAGEREPO_SECRET_KEYS is not set: generated a key into %s (mode 0600). "
        "Back it up: without it the stored credentials cannot be decrypted.",
        path,
    )
    return key
