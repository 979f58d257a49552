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
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
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
        self._keys = tuple(key.encode() for key in keys)

    def derive_key(self, purpose: str) -> bytes:
        """A key for another job (e.g. keyed digests), the same on every instance."""
        return hmac.new(self._primary_key, purpose.encode(), hashlib.sha256).digest()

    def derive_keys(self, purpose: str) -> tuple[bytes, ...]:
        """One HKDF-SHA256 key per configured key, the first key's first.

        A signature is made with the first and accepted with any, so signed data
        (e.g. a modal's private_metadata) survives a key rotation like secrets do.
        """
        return tuple(
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)
            for key in self._keys
        )

    def hkdf_key(self, purpose: str) -> bytes:
        """The first key's HKDF key for `purpose` (the audit trail's credential
        fingerprints): same keys, same fingerprints."""
        return self.derive_keys(purpose)[0]

    def encrypt(self, plaintext: str) -> str:
        return self._all.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str, *, what: str) -> str:
        """Decrypt, naming `what` (e.g. "password of repository 7") when no key fits."""
        return self._with_keys(
            self._all.decrypt,
            ciphertext,
            f"cannot decrypt the {what}: none of the keys in IMAGEREPO_SECRET_KEYS "
            "encrypted it (was a key removed before `imagerepo-bot rotate-keys` ran?)",
        )

    def is_current(self, ciphertext: str) -> bool:
        """True when the first key alone decrypts it, so rotation can skip it."""
        try:
            self._primary.decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str, *, what: str) -> str:
        """Re-encrypt with the first key (the plaintext never leaves this object)."""
        return self._with_keys(
            self._all.rotate,
            ciphertext,
            f"cannot rotate the {what}: none of the keys in IMAGEREPO_SECRET_KEYS encrypted it",
        )

    @staticmethod
    def _with_keys(apply: Callable[[bytes], bytes], ciphertext: str, failure: str) -> str:
        """`apply` (decrypt or rotate with the keys) to the token; `failure` when no key fits."""
        try:
            return apply(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(failure) from None


def load_or_create_key_file(path: Path) -> str:
    """The development fallback: one key kept in a 0600 file beside the SQLite database.

    Several processes may start at once (a test runner, two replicas on one volume): the
    key is written whole into a private temporary file, flushed to disk, then hard-linked
    to its name, which fails if the name exists. So the file appears complete or not at
    all, exactly one process's key wins, and the others read that one.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if _create_key_file(path):
            log.warning(
                "IMAGEREPO_SECRET_KEYS is not set: generated a key into %s (mode 0600). "
                "Back it up: without it the stored credentials cannot be decrypted.",
                path,
            )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("key file %s is readable by others (mode %o); fixing to 0600", path, mode)
        path.chmod(0o600)
    key = path.read_text().strip()
    if not key:
        raise SecretKeyError(f"the key file {path} is empty; remove it only if no secret uses it")
    return key


def _create_key_file(path: Path) -> bool:
    """Publish a new key at `path` atomically; False when another process got there first."""
    key = Fernet.generate_key().decode()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp creates it 0600
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        _fsync_directory(path.parent)
        return True
    finally:
        os.unlink(temporary)


def _fsync_directory(directory: Path) -> None:
    """Make the new name itself durable (a crash right after would otherwise lose it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
