"""Inserting a row that a unique index guards, refused in words either way.

The look-up first gives the person a precise sentence; the savepoint catches the race
the look-up cannot see (another request, a double click or Slack's retry, inserted the
same row between the look-up and the insert), so the unique index is the last word
and the caller's transaction survives the clash.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import DuplicateError


async def insert_unique(
    session: AsyncSession,
    row: object,
    *,
    clash: Select[Any],
    message: str,
    race_message: str | None = None,
) -> None:
    """Add `row` unless `clash` finds a row; DuplicateError(message) otherwise.

    `race_message` is said when the index refused the insert after the look-up passed
    (the same sentence unless the caller knows less by then).
    """
    if await session.scalar(clash) is not None:
        raise DuplicateError(message)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise DuplicateError(race_message or message) from None
