"""`imagerepo-bot serve | migrate | rotate-keys | check | audit`.

Configuration and database problems end the process with one line on stderr
(exit 2) rather than a traceback: the person starting the bot needs the fix,
not the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import logs
from bot.settings import Settings, SettingsError
from storage.crypto import SecretKeyError

log = logging.getLogger("imagerepo_bot")

EXIT_CONFIG = 2


class StartupError(Exception):
    """Anything that stops a command before it can do its work; the message is the whole story."""


def _database_label(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def _migrate(settings: Settings) -> None:
    from storage.migrate import upgrade

    if settings.sqlite_path is not None:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.database_url)
    except (OperationalError, DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise StartupError(
            f"cannot migrate the database {_database_label(settings.database_url)}: {reason}"
        ) from None


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    _migrate(settings)
    print(f"database {_database_label(settings.database_url)} is at the latest schema")
    return 0


def cmd_serve(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.runtime import Runtime
    from server import serving
    from server.app import create_asgi_app

    settings.require_slack_credentials()
    _migrate(settings)
    runtime = Runtime.create(settings)
    from server import scheduling

    app = create_asgi_app(
        runtime,
        on_startup=lambda: scheduling.start(runtime),
        on_shutdown=lambda: scheduling.stop(runtime),
    )
    if settings.metrics_port is None:
        log.info(
            "serving on 0.0.0.0:%d (POST /slack/events, GET /healthz, GET /metrics)",
            settings.port,
        )
    else:
        log.info(
            "serving POST /slack/events on 0.0.0.0:%d, GET /healthz and GET /metrics on 0.0.0.0:%d",
            settings.port,
            settings.metrics_port,
        )
    try:
        serving.serve(app, settings.port, settings.metrics_port)
    except serving.ListenError as error:
        raise StartupError(str(error)) from None
    return 0


def cmd_rotate_keys(settings: Settings, _args: argparse.Namespace) -> int:
    from bot import audit
    from bot.keys import secret_box
    from storage import audit as chain
    from storage.db import create_engine, session_factory, transaction
    from storage.rotation import rotate_all

    box = secret_box(settings)
    _migrate(settings)
    who = audit.cli_actor()
    event = chain.AuditEvent(
        team_id="", user_id=who.user_id, user_name=who.display_name, action=audit.Action.ROTATE_KEYS
    )

    async def run() -> int:
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        try:
            report = await rotate_all(sessions, box, audit_event=event)
        except SecretKeyError as error:
            failed = replace(event, outcome=chain.Outcome.FAILED, error_kind="secret_unavailable")
            async with transaction(sessions) as session:
                await chain.append(session, replace(failed, detail=str(error)[:500]))
            raise
        finally:
            await engine.dispose()
        print(
            f"re-encrypted {report.rotated} secret(s) with the first key; "
            f"{report.already_current} already used it"
        )
        return 0

    return asyncio.run(run())


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    from server import audit_cli

    _migrate(settings)
    return asyncio.run(audit_cli.run(settings.database_url, args))


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import registry_config
    from server import check_command

    return asyncio.run(check_command.run(args, registry_config(settings)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagerepo-bot", description="Manage container image repositories from Slack."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="migrate the database, then serve Slack requests").set_defaults(
        func=cmd_serve
    )
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser(
        "rotate-keys", help="re-encrypt every stored secret with the first key"
    ).set_defaults(func=cmd_rotate_keys)
    check = sub.add_parser("check", help="test a connection to a registry from the terminal")
    from server import check_command

    check_command.add_arguments(check)
    check.set_defaults(func=cmd_check)
    audit = sub.add_parser("audit", help="print the audit trail, or `audit verify` its hash chain")
    from server import audit_cli

    audit_cli.add_arguments(audit)
    audit.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        logs.configure()
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        code: int = args.func(settings, args)
    except (SettingsError, StartupError, SecretKeyError) as error:
        print(f"imagerepo-bot: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
