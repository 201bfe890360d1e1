"""`backhaul`: run the server, migrate the database, manage API keys, run the demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from importlib.metadata import version
from typing import Any

from rich.console import Console
from rich.table import Table

from service.config import ConfigError, Settings, reference
from service.logging import configure_logging

err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return Settings.load()
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red] {exc}")
        raise SystemExit(2) from None


def _run(coroutine: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(coroutine)
    except KeyboardInterrupt:
        return 130


def cmd_serve(_: argparse.Namespace) -> int:
    from service.server import serve

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    return _run(serve(settings))


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    from service.storage.schema import current_revision, upgrade_database

    settings = _settings()

    async def run() -> int:
        await upgrade_database(settings.database_url)
        print(f"database at revision {await current_revision(settings.database_url)}")
        return 0

    return _run(run())


def cmd_db_current(_: argparse.Namespace) -> int:
    from service.storage.schema import current_revision, head_revision

    settings = _settings()

    async def run() -> int:
        current = await current_revision(settings.database_url)
        head = head_revision()
        print(f"current: {current or '(empty database)'}\nhead:    {head}")
        return 0 if current == head else 1

    return _run(run())


async def _with_tenancy(action: Callable[[Any], Coroutine[Any, Any, int]]) -> int:
    from service.storage.engine import create_database
    from service.storage.schema import upgrade_database
    from service.storage.tenancy import Tenancy

    settings = _settings()
    await upgrade_database(settings.database_url)
    database = create_database(settings.database_url, pool_size=1)
    try:
        return await action(Tenancy(database, cache_ttl=timedelta(0)))
    finally:
        await database.dispose()


def cmd_keys_create(args: argparse.Namespace) -> int:
    async def create(tenancy: Any) -> int:
        await tenancy.ensure_merchant(args.merchant, args.merchant_name or args.merchant)
        key, plaintext = await tenancy.create_api_key(args.merchant, args.name)
        err.print(
            f"API key {key.id} created for merchant {args.merchant}. It is shown once, below; store it now."
        )
        print(plaintext)
        return 0

    return _run(_with_tenancy(create))


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    async def revoke(tenancy: Any) -> int:
        if await tenancy.revoke_api_key(args.key):
            print(f"revoked {args.key if '_' not in args.key else 'the given key'}")
            return 0
        err.print("[red]no active key matches[/red]")
        return 1

    return _run(_with_tenancy(revoke))


def cmd_keys_list(args: argparse.Namespace) -> int:
    async def list_keys(tenancy: Any) -> int:
        table = Table("key id", "name", "created", "last used", "revoked")
        for key in await tenancy.list_api_keys(args.merchant):
            table.add_row(
                key.id, key.name, str(key.created_at), str(key.last_used_at or ""), str(key.revoked_at or "")
            )
        Console().print(table)
        return 0

    return _run(_with_tenancy(list_keys))


def cmd_demo(args: argparse.Namespace) -> int:
    from service.demo import run_demo

    return _run(run_demo(Console(), verbose_logs=args.logs))


def cmd_version(_: argparse.Namespace) -> int:
    print(f"backhaul {version('backhaul')}")
    return 0


def cmd_config(_: argparse.Namespace) -> int:
    table = Table("variable", "default", "meaning")
    for row in reference():
        table.add_row(*row)
    Console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backhaul", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("serve", help="run the gRPC and HTTP server").set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations (idempotent)").set_defaults(func=cmd_db_upgrade)
    db.add_parser("current", help="show the schema revision").set_defaults(func=cmd_db_current)

    keys = commands.add_parser("keys", help="merchant API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key; prints it alone on the last line, once")
    create.add_argument("--merchant", required=True, help="merchant id (created when new)")
    create.add_argument("--merchant-name", default="", help="display name for a new merchant")
    create.add_argument("--name", default="", help="what the key is for")
    create.set_defaults(func=cmd_keys_create)
    revoke = keys.add_parser("revoke", help="revoke a key by key id or by the key itself")
    revoke.add_argument("key")
    revoke.set_defaults(func=cmd_keys_revoke)
    list_ = keys.add_parser("list", help="list a merchant's keys (never the secrets)")
    list_.add_argument("--merchant", required=True)
    list_.set_defaults(func=cmd_keys_list)

    demo = commands.add_parser("demo", help="start a throwaway server and walk through what Backhaul does")
    demo.add_argument("--logs", action="store_true", help="show the server's logs too")
    demo.set_defaults(func=cmd_demo)

    commands.add_parser("version", help="print the version").set_defaults(func=cmd_version)
    commands.add_parser("config", help="list the BACKHAUL_* settings").set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
