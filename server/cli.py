"""`imagerepo-bot serve | migrate | rotate-keys | check | audit`.

Configuration and database problems end the process with one line on stderr
(exit 2) rather than a traceback: the person starting the bot needs the fix,
not the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path

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


def version() -> str:
    try:
        return metadata.version("imagerepo-bot")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def _prepare_sqlite_directory(path: Path) -> None:
    """The directory of an SQLite DATABASE_URL exists and is writable (SQLite also writes
    its -wal and -shm files there), or one line says what to change."""
    directory = path.parent
    if path.is_dir():
        raise StartupError(
            f"DATABASE_URL names {path}, which is a directory: name a file in it, "
            f"e.g. sqlite:///{path / 'imagerepo.db'}"
        )
    blocker = next((p for p in (directory, *directory.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise StartupError(
            f"DATABASE_URL names {path}, but {blocker} is a file, not a directory: "
            "choose a path in a directory"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(
            f"cannot create the directory {directory} for DATABASE_URL: {error.strerror}; "
            "create it (writable by this user) or choose another path"
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.R_OK | os.W_OK)
    ):
        raise StartupError(
            f"the SQLite database {path} is not writable by this user (uid {os.getuid()}): "
            f"make {directory} and the files in it owned by uid {os.getuid()} (a volume mounted "
            f"at /data in the image: chown -R 10001:10001 on the host), or set DATABASE_URL "
            "to a writable path or to PostgreSQL"
        )


def _migrate(settings: Settings) -> None:
    from storage.migrate import upgrade

    if settings.sqlite_path is not None:
        _prepare_sqlite_directory(settings.sqlite_path)
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


def _listeners(settings: Settings) -> str:
    if settings.metrics_port is None:
        return f"{settings.host}:{settings.port} (POST /slack/events, GET /healthz, GET /metrics)"
    return (
        f"{settings.host}:{settings.port} (POST /slack/events), "
        f"{settings.metrics_host}:{settings.metrics_port} (GET /healthz, GET /metrics)"
    )


def cmd_serve(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.runtime import Runtime
    from server import preflight, serving
    from server.app import create_asgi_app

    settings.require_slack_credentials()
    _migrate(settings)
    try:
        sockets = serving.bind(
            settings.port,
            settings.metrics_port,
            host=settings.host,
            metrics_host=settings.metrics_host,
        )
    except serving.ListenError as error:
        raise StartupError(str(error)) from None
    try:
        try:
            identity = preflight.run_checks(settings)
        except preflight.SlackRefused as error:
            raise StartupError(str(error)) from None
        runtime = Runtime.create(settings)
        from server import scheduling

        app = create_asgi_app(
            runtime,
            on_startup=lambda: scheduling.start(runtime),
            on_shutdown=lambda: scheduling.stop(runtime),
        )
        mode = "Socket Mode" if settings.slack_app_token else "HTTP mode"
        who = f" as {identity.user} in {identity.team}" if identity else ""
        log.info(
            "imagerepo-bot %s serving: %s%s, database %s, listening on %s",
            version(),
            mode,
            who,
            _database_label(settings.database_url),
            _listeners(settings),
        )
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    serving.serve(app, sockets)
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
    """Reads only: never creates or migrates the database DATABASE_URL names."""
    from server import audit_cli
    from storage.migrate import NotMigrated, require_current

    label = _database_label(settings.database_url)
    try:
        asyncio.run(require_current(settings.database_url))
    except NotMigrated as error:
        raise StartupError(f"audit: {label}: {error}") from None
    except (OperationalError, DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise StartupError(f"audit: cannot read the database {label}: {reason}") from None
    return asyncio.run(audit_cli.run(settings.database_url, args))


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import registry_config
    from server import check_command

    return asyncio.run(check_command.run(args, registry_config(settings)))


# What each subcommand reads from the environment (DESIGN.md, settings table), shown by
# its --help so an operator need not look it up.
_DATABASE = "  DATABASE_URL            SQLAlchemy URL (default sqlite:///./imagerepo.db)\n"
_KEYS = (
    "  IMAGEREPO_SECRET_KEYS   Fernet keys, comma-separated; the first encrypts\n"
    "                          (default: a key file beside an SQLite database)\n"
)
_LOGS = "  LOG_LEVEL, LOG_FORMAT   debug|info|warning|error; json|text (text on a terminal)\n"
SETTINGS_HELP = {
    "serve": (
        "  SLACK_BOT_TOKEN         Bot User OAuth Token, xoxb-... (required; checked with\n"
        "                          auth.test before listening)\n"
        "  SLACK_SIGNING_SECRET    the app's Signing Secret (required)\n"
        "  SLACK_APP_TOKEN         App-Level Token, xapp-...: Socket Mode instead of HTTP\n"
        "  SLACK_API_URL           Slack Web API base (default https://slack.com/api/)\n"
        + _DATABASE
        + _KEYS
        + "  HOST, PORT              where POST /slack/events listens (default 0.0.0.0:3000)\n"
        "  METRICS_HOST, METRICS_PORT  move /healthz and /metrics to this address\n"
        "  IMAGEREPO_ALLOWED_NETWORKS  private CIDRs registry URLs may resolve to\n"
        "  IMAGEREPO_RECHECK_INTERVAL, IMAGEREPO_RECHECK_CONCURRENCY, IMAGEREPO_ALERT_AFTER\n"
        "  IMAGEREPO_AUDIT_RETENTION_DAYS, IMAGEREPO_DOCKERHUB_*, IMAGEREPO_GITHUB_API_URL,\n"
        "  IMAGEREPO_GOOGLE_API_URL, IMAGEREPO_AZURE_AUTHORITY, AWS_* (see README)\n"
        + _LOGS
        + "\nexample:\n  SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... imagerepo-bot serve\n"
    ),
    "migrate": (
        _DATABASE + _LOGS + "\nSafe to run from several processes at once.\n"
        "\nexample:\n  DATABASE_URL=postgresql://bot@db:5432/imagerepo imagerepo-bot migrate\n"
    ),
    "rotate-keys": (
        _DATABASE
        + _KEYS
        + _LOGS
        + "\nexample:\n  IMAGEREPO_SECRET_KEYS=NEWKEY,OLDKEY imagerepo-bot rotate-keys\n"
    ),
    "check": (
        "  IMAGEREPO_ALLOWED_NETWORKS  private CIDRs the registry URL may resolve to\n"
        "  IMAGEREPO_DOCKERHUB_*, IMAGEREPO_GITHUB_API_URL, IMAGEREPO_GOOGLE_API_URL,\n"
        "  IMAGEREPO_AZURE_AUTHORITY, AWS_* (provider endpoints)\n"
        '\nexample:\n  printf %s "$TOKEN" | imagerepo-bot check https://registry.example.com '
        "--repository team/app --username ci --password-stdin\n"
    ),
    "audit": (
        _DATABASE + "\nReads only: never creates or migrates a database.\n"
        "\nexamples:\n  imagerepo-bot audit --since 2026-11-01 --project payments --format csv\n"
        "  imagerepo-bot audit verify\n"
    ),
}


def _subparser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="settings (environment variables):\n" + SETTINGS_HELP[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagerepo-bot", description="Manage container image repositories from Slack."
    )
    parser.add_argument("--version", action="version", version=f"imagerepo-bot {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _subparser(
        sub, "serve", "check the Slack tokens, migrate the database, then serve"
    ).set_defaults(func=cmd_serve)
    _subparser(sub, "migrate", "bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )
    _subparser(
        sub, "rotate-keys", "re-encrypt every stored secret with the first key"
    ).set_defaults(func=cmd_rotate_keys)
    check = _subparser(sub, "check", "test a connection to a registry from the terminal")
    from server import check_command

    check_command.add_arguments(check)
    check.set_defaults(func=cmd_check)
    audit = _subparser(sub, "audit", "print the audit trail, or `audit verify` its hash chain")
    from server import audit_cli

    audit_cli.add_arguments(audit)
    audit.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        # The other commands print their result for a person: their log says only what
        # went wrong, as text, unless LOG_LEVEL / LOG_FORMAT ask otherwise (a migration Job).
        serving = args.command == "serve"
        level = settings.log_level if serving or os.environ.get("LOG_LEVEL") else "warning"
        fmt = settings.log_format if serving or os.environ.get("LOG_FORMAT") else "text"
        logs.configure(level, fmt)
        code: int = args.func(settings, args)
    except (SettingsError, StartupError, SecretKeyError) as error:
        print(f"imagerepo-bot: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
