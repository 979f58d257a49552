"""`imagerepo-bot check URL --repository NAME ...`: a Connection Test from the terminal.

The same code path as the Slack button (`RegistryService.connection_test`),
printed one line per step.  Exit codes: 0 the test passed, 1 it failed (the
last line names the error kind), 2 bad usage (one line on stderr).  The
password is read from stdin only (`--password-stdin`), never from the command
line, where other users could see it in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from registry import (
    ALL_TYPES,
    TYPES,
    Credentials,
    RegisteredTool,
    RegistryConfig,
    RegistryService,
    RegistryType,
    RepositoryTarget,
    TlsOptions,
    config_from_env,
    type_info,
    validate_ca_bundle,
)
from registry.results import ConnectionTestResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: the message is printed as one line, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url",
        nargs="?",
        default="",
        help="registry URL, e.g. https://registry.example.com (optional where the type has a "
        "default: "
        + ", ".join(f"{i.type.value} {i.default_url}" for i in TYPES if i.default_url)
        + ")",
    )
    parser.add_argument("--repository", required=True, help="repository path, e.g. team/app")
    parser.add_argument("--username", help="username (the password comes from stdin)")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password or token from stdin"
    )
    parser.add_argument(
        "--pull-only", action="store_true", help="test pull access only (a pull-only repository)"
    )
    parser.add_argument(
        "--type",
        choices=[t.value for t in ALL_TYPES],
        default=RegistryType.IMAGE_REGISTRY.value,
        help=f"repository type (default: {RegistryType.IMAGE_REGISTRY.value}); "
        + "; ".join(
            f"{i.type.value}: {i.label}"
            + (f" ({i.credentials_hint})" if i.credentials_hint else "")
            for i in TYPES
        ),
    )
    parser.add_argument("--ca-file", help="CA bundle (PEM) to trust for this registry")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the TLS certificate (explicit opt-in)",
    )


def _read_password(stdin_text: str) -> str:
    # like `docker login --password-stdin`: drop one trailing newline only
    password = stdin_text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise UsageError("--password-stdin: no password on standard input")
    return password


def _tls(args: argparse.Namespace) -> TlsOptions:
    if args.insecure and args.ca_file:
        raise UsageError("--insecure and --ca-file contradict each other; choose one")
    if args.insecure:
        return TlsOptions(verify=False)
    if not args.ca_file:
        return TlsOptions()
    try:
        pem = Path(args.ca_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"--ca-file {args.ca_file}: cannot read it ({exc.__class__.__name__})"
        ) from None
    try:
        validate_ca_bundle(pem)
    except ValueError as exc:
        raise UsageError(f"--ca-file {args.ca_file}: {exc}") from None
    return TlsOptions(ca_bundle_pem=pem)


def build_target(args: argparse.Namespace, stdin_text: str | None) -> RepositoryTarget:
    """The target the arguments describe; raises UsageError for bad usage."""
    if args.password_stdin and not args.username:
        raise UsageError("--password-stdin needs --username")
    if args.username and not args.password_stdin:
        raise UsageError(
            "--username needs --password-stdin (passwords are never taken as arguments)"
        )
    if not str(args.repository).strip():
        raise UsageError("--repository must not be empty")
    credentials = None
    if args.username:
        credentials = Credentials(args.username, _read_password(stdin_text or ""))
    tls = _tls(args)
    kind = RegistryType(args.type)
    url = str(args.url or "").strip() or type_info(kind).default_url
    if not url:
        raise UsageError(f"--type {kind.value} needs the registry URL")
    tool = (
        RegisteredTool(url, credentials, tls, kind)
        if type_info(kind).needs_registered_tool
        else None
    )
    return RepositoryTarget(
        type=kind,
        registry_url=url,
        repository=args.repository,
        credentials=credentials,
        pull_only=bool(args.pull_only),
        tls=tls,
        tool=tool,
    )


def format_result(result: ConnectionTestResult) -> list[str]:
    lines = []
    for step in result.steps:
        status = "ok" if step.ok else ("skipped" if step.skipped else "FAILED")
        lines.append(f"{step.name:<14} {status:<8} {step.detail}")
    if result.ok:
        lines.append(
            f"PASSED: {result.message} "
            f"({result.latency_ms:.0f} ms, {result.round_trips} round trips)"
        )
    else:
        kind = result.error_kind.value if result.error_kind else "unknown"
        lines.append(f"FAILED ({kind}): {result.message}")
    return lines


async def run(args: argparse.Namespace, config: RegistryConfig) -> int:
    """Run the Connection Test of `args`, print one line per step, return the exit code."""
    try:
        stdin_text = await asyncio.to_thread(sys.stdin.read) if args.password_stdin else None
        target = build_target(args, stdin_text)
    except UsageError as exc:
        print(f"imagerepo-bot check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with RegistryService(config) as service:
        result = await service.connection_test(target)
    for line in format_result(result):
        print(line)
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.check_command")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_env(os.environ)
    except ValueError as exc:
        print(f"imagerepo-bot check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(run(args, config))


if __name__ == "__main__":
    sys.exit(main())
