"""Listeners of a click that carries ids: `menu` for a row's menu (`kind:id` chosen),
`row_button` for a button holding an entry's id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from handlers.context import Request
from handlers.payload import action_row_id, action_value, chosen_value, row_id


def _menu_choice(body: Mapping[str, Any]) -> tuple[str, int] | None:
    value = chosen_value(body) or action_value(body)
    kind, _, number = value.partition(":")
    number_id = row_id(number)
    return (kind, number_id) if number_id is not None else None


def _row(body: Mapping[str, Any]) -> tuple[int] | None:
    repository_id = action_row_id(body)
    return (repository_id,) if repository_id is not None else None


def menu(
    handle: Callable[[Request, str, int], Awaitable[None]],
) -> Callable[[Request], Awaitable[None]]:
    """A row menu's listener: `handle(request, kind, id)` with the `kind:id` chosen."""
    return _reading(_menu_choice, handle)


def row_button(
    handle: Callable[[Request, int], Awaitable[None]],
) -> Callable[[Request], Awaitable[None]]:
    """A listener for a button whose value is an entry's id: `handle(request, id)`."""
    return _reading(_row, handle)


def _reading(
    read: Callable[[Mapping[str, Any]], tuple[Any, ...] | None],
    handle: Callable[..., Awaitable[None]],
) -> Callable[[Request], Awaitable[None]]:
    """Ack, read the ids the click carries and hand them to `handle` (a click without
    them does nothing)."""

    async def listener(request: Request) -> None:
        await request.ack()
        carried = read(request.body)
        if carried is not None:
            await handle(request, *carried)

    listener.__name__ = listener.__qualname__ = handle.__name__  # as logged by the guard
    return listener
