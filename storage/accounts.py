"""The account a registered tool or a saved repository signs in with: as a user entered it,
and how it is written onto a row (`models.AccountColumns`, the secret encrypted)."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.crypto import SecretBox
from storage.models import AccountColumns


@dataclass(frozen=True)
class EnteredAccount:
    """What a user entered; the secret is plaintext here and only here (repr hides it)."""

    username: str | None = None
    secret: str | None = field(default=None, repr=False)
    tls_verify: bool = True
    ca_bundle_pem: str | None = None


def store(box: SecretBox, row: AccountColumns, account: EnteredAccount) -> None:
    """Write the account onto the row: blanks as NULL, the secret encrypted."""
    store_credentials(box, row, username=account.username, secret=account.secret)
    row.tls_verify = account.tls_verify
    row.ca_bundle_pem = account.ca_bundle_pem or None


def store_credentials(
    box: SecretBox, row: AccountColumns, *, username: str | None, secret: str | None
) -> None:
    """Write a new user name and secret, keeping the row's TLS options."""
    row.username = username or None
    row.secret_ciphertext = box.encrypt(secret) if secret else None
