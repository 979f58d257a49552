"""The runtime the use-case tests drive: a migrated database (SQLite or PostgreSQL, by
`migrated_url`), a fresh key, and registries on loopback only."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet

from bot.runtime import Runtime
from bot.settings import Settings


@pytest.fixture
async def rt(migrated_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(
        Settings(
            database_url=migrated_url,
            secret_keys=(Fernet.generate_key().decode(),),
            allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        )
    )
    try:
        yield runtime
    finally:
        await runtime.aclose()
