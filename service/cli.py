"""`backhaul`: run the server, migrate the database, manage API keys, quote a return, run the demo, simulate a
return history and compare carriers."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tomllib
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from service.config import CLIENT_API_KEY_VARIABLE, ConfigError, Settings, reference
from service.logging import configure_logging

err = Console(stderr=True)

API_KEY_VARIABLE = CLIENT_API_KEY_VARIABLE


def _settings() -> Settings:
    try:
        return Settings.load()
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red] {exc}")
        raise SystemExit(2) from None


def serving_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop `backhaul serve` runs on: uvloop when installed (it serves gRPC with less CPU per
    call), else asyncio's (None). The benchmarks run their servers on the same."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _run(coroutine: Coroutine[Any, Any, int], *, fast_loop: bool = False) -> int:
    try:
        with asyncio.Runner(loop_factory=serving_loop_factory() if fast_loop else None) as runner:
            return runner.run(coroutine)
    except KeyboardInterrupt:
        return 130


def cmd_serve(_: argparse.Namespace) -> int:
    from service.server import serve

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    return _run(serve(settings), fast_loop=True)


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


# `backhaul quote` ----------------------------------------------------------------------------------------


def _as_proto_json(value: Any) -> Any:
    """TOML values in the protobuf JSON mapping: a TOML date becomes a google.type.Date object."""
    if isinstance(value, dict):
        return {key: _as_proto_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_proto_json(item) for item in value]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return {"year": value.year, "month": value.month, "day": value.day}
    return value


def read_quote_request(path: Path) -> Any:
    """A QuoteReturnRequest from a JSON or TOML file in the protobuf JSON mapping (field names as in the
    .proto or in lowerCamelCase, enums by name, google.type.Money as {currency_code, units, nanos})."""
    from google.protobuf import json_format

    from backhaul.v1 import rates_pb2

    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    return json_format.ParseDict(_as_proto_json(data), rates_pb2.QuoteReturnRequest())


def _print_refusal(error: Any) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    err.print(f"[red]{error.code().name}[/red] {error.details()}")
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            for violation in bad_request.field_violations:
                err.print(f"  [bold]{violation.field}[/bold]: {violation.description}")


def _channel(args: argparse.Namespace) -> Any:
    import grpc

    if not (args.tls or args.ca_file):
        return grpc.aio.insecure_channel(args.target)
    roots = Path(args.ca_file).read_bytes() if args.ca_file else None
    return grpc.aio.secure_channel(args.target, grpc.ssl_channel_credentials(root_certificates=roots))


def cmd_quote(args: argparse.Namespace) -> int:
    import grpc
    from google.protobuf import json_format

    from backhaul.v1 import rates_pb2_grpc
    from service.demo import print_quote_response, quiet_logs, throwaway_server

    try:
        request = read_quote_request(Path(args.file))
    except (OSError, ValueError, json_format.ParseError) as exc:  # TOML and JSON errors are ValueErrors
        err.print(f"[red]cannot read the request[/red] {args.file}: {exc}")
        return 2

    async def ask(channel: Any, api_key: str) -> int:
        stub = rates_pb2_grpc.RatesServiceStub(channel)
        try:
            response = await stub.QuoteReturn(
                request, metadata=(("authorization", f"Bearer {api_key}"),), timeout=args.timeout
            )
        except grpc.aio.AioRpcError as error:
            _print_refusal(error)
            return 1
        if args.json:
            print(json_format.MessageToJson(response, preserving_proto_field_name=True))
        else:
            print_quote_response(Console(), response)
        return 0

    async def embedded() -> int:
        quiet_logs(False)
        async with throwaway_server(dict(os.environ)) as throwaway:
            return await ask(throwaway.client.channel, throwaway.client.api_key)

    async def remote() -> int:
        api_key = os.environ.get(API_KEY_VARIABLE, "")
        if not api_key:
            err.print(f"[red]set {API_KEY_VARIABLE}[/red] to an API key of the server (or use --embedded)")
            return 2
        async with _channel(args) as channel:
            return await ask(channel, api_key)

    return _run(embedded() if args.embedded else remote(), fast_loop=True)


# `backhaul simulate`, `backhaul insights compare` -----------------------------------------------------------

_DURATION_UNITS = {"d": 1.0, "w": 7.0, "h": 1 / 24}


def parse_instant(text: str, now: dt.datetime) -> dt.datetime:
    """`90d`, `12w`, `36h` (that long before `now`), or an ISO date or date-time (UTC unless it says)."""
    value = text.strip()
    unit = _DURATION_UNITS.get(value[-1:].lower())
    if unit is not None and value[:-1].isdigit():
        return now - timedelta(days=int(value[:-1]) * unit)
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def cmd_simulate(args: argparse.Namespace) -> int:
    from service.insights.simulator import SimulationRequest, simulate

    settings = _settings()
    configure_logging("WARNING", "console")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    try:
        until = parse_instant(args.until, now) if args.until else now
    except ValueError as exc:
        err.print(f"[red]--until[/red] {exc}")
        return 2
    request = SimulationRequest(args.merchant, args.returns, args.days, args.seed, until)

    def progress(report: Any) -> None:
        err.print(f"  {report.returns:>8} returns, {report.scans:>9} scans  ({report.seconds:.0f} s)")

    async def run() -> int:
        report = await simulate(settings, request, bulk=args.bulk, batch_size=args.batch, progress=progress)
        table = Table("carrier account", "returns", title=f"Simulated returns of {args.merchant}")
        for account_id, count in sorted(report.by_carrier.items()):
            table.add_row(account_id, str(count))
        Console().print(table)
        print(
            f"{report.returns} returns ({report.written} new), {report.scans} scans, {report.quote_answers} "
            f"quote answers up to {until.isoformat()} in {report.seconds:.1f} s"
        )
        return 0

    return _run(run())


_GROUP_BY = ("carrier", "carrier_service", "carrier_lane", "carrier_service_lane")


def _compare_request(args: argparse.Namespace) -> Any:
    from backhaul.v1 import insights_pb2
    from service.insights.model import Lane

    now = dt.datetime.now(dt.UTC)
    until = parse_instant(args.until, now) if args.until else now
    since = parse_instant(args.since, until)
    lane = Lane.parse(args.lane) if args.lane else Lane()
    request = insights_pb2.CompareCarriersRequest(
        currency=args.currency,
        group_by=insights_pb2.CompareCarriersGroupBy.Value(
            f"COMPARE_CARRIERS_GROUP_BY_{args.group_by.upper()}"
        ),
        carrier_account_ids=args.carrier,
        top_skus=args.top_skus,
    )
    request.lane.customer_country = lane.customer_country
    request.lane.hub_id = lane.destination
    request.since.FromDatetime(since)
    request.until.FromDatetime(until)
    return request


def cmd_insights_compare(args: argparse.Namespace) -> int:
    import grpc

    from backhaul.v1 import insights_pb2_grpc
    from service.insights.report import print_comparison, write_chart, write_csv

    try:
        request = _compare_request(args)
    except ValueError as exc:
        err.print(f"[red]invalid option[/red] {exc}")
        return 2

    async def local() -> Any:
        from carriers.accounts import load_accounts
        from service.errors import ApplicationError
        from service.grpc.insights_servicer import comparison_query_from_proto, comparison_result_to_proto
        from service.insights.comparison import CarrierComparisons
        from service.insights.journeys import JourneyProjection
        from service.insights.scoring import load_score_weights
        from service.quoting.fx import load_fx_table
        from service.storage.engine import create_database
        from service.storage.schema import upgrade_database

        settings = _settings()
        await upgrade_database(settings.database_url)
        database = create_database(settings.database_url, pool_size=2)
        comparisons = CarrierComparisons(
            database,
            fx=load_fx_table(settings.fx_rates_file),
            weights=load_score_weights(settings.insights_score_weights_file),
            accounts={account.id: account for account in load_accounts(settings.carriers_file)},
            default_period_days=settings.insights_period_days,
        )
        try:
            await JourneyProjection(database).catch_up()
            result = await comparisons.compare(comparison_query_from_proto(request, args.merchant))
        except ApplicationError as exc:
            err.print(f"[red]refused[/red] {exc}")
            return None
        finally:
            await database.dispose()
        return comparison_result_to_proto(result)

    async def remote() -> Any:
        api_key = os.environ.get(API_KEY_VARIABLE, "")
        if not api_key:
            err.print(f"[red]set {API_KEY_VARIABLE}[/red] to an API key of the server")
            return None
        async with _channel(args) as channel:
            try:
                return await insights_pb2_grpc.InsightsServiceStub(channel).CompareCarriers(
                    request, metadata=(("authorization", f"Bearer {api_key}"),), timeout=args.timeout
                )
            except grpc.aio.AioRpcError as error:
                _print_refusal(error)
                return None

    async def run() -> int:
        response = await (remote() if args.target else local())
        if response is None:
            return 1
        title = f"Carriers on {args.lane or 'every lane'}"
        # Piped output gets room for the whole table; a terminal keeps its own width.
        print_comparison(Console() if sys.stdout.isatty() else Console(width=170), response, title)
        if args.csv:
            write_csv(response, Path(args.csv))
            err.print(f"CSV written to {args.csv}")
        if args.chart:
            write_chart(response, Path(args.chart), title)
            err.print(f"chart written to {args.chart}")
        return 0

    return _run(run())


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

    quote = commands.add_parser(
        "quote",
        help="quote a return from a JSON or TOML QuoteReturnRequest file and print the answer as tables",
        description="Asks a running server (--target, API key in BACKHAUL_API_KEY), or with --embedded a "
        "throwaway server in this process on the BACKHAUL_* configuration. The file holds a "
        "QuoteReturnRequest in the protobuf JSON mapping (in TOML, dates may be written as TOML dates).",
    )
    quote.add_argument("file", help="the request, *.json or *.toml")
    quote.add_argument("--target", default="127.0.0.1:50051", help="HOST:PORT of the server")
    quote.add_argument("--embedded", action="store_true", help="start a throwaway server in this process")
    quote.add_argument("--timeout", type=float, default=10.0, help="deadline of the call in seconds")
    quote.add_argument("--tls", action="store_true", help="TLS with the system's root certificates")
    quote.add_argument("--ca-file", help="TLS trusting this PEM CA bundle")
    quote.add_argument("--json", action="store_true", help="print the response as JSON instead of tables")
    quote.set_defaults(func=cmd_quote)

    simulate = commands.add_parser(
        "simulate",
        help="write a realistic return history into the configured database (deterministic by seed)",
        description="Generates returns across the configured carriers and lanes from the simulator profiles "
        "(service/insights/data/simulation_profiles.toml) and writes them through the labels store, tracking "
        "registration and tracking ingestion. The same seed, merchant and --until write the same history; "
        "writing it again adds nothing.",
    )
    simulate.add_argument("--returns", type=int, required=True, help="how many returns")
    simulate.add_argument("--days", type=int, default=90, help="over how many days, ending at --until")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--merchant", default="demo-merchant", help="merchant id (created when new)")
    simulate.add_argument("--until", help="end of the history: ISO date-time or e.g. 2d (ago); default now")
    simulate.add_argument(
        "--bulk", action="store_true", help="batched inserts of labels and parcels (large histories)"
    )
    simulate.add_argument("--batch", type=int, default=500, help="returns generated and written per batch")
    simulate.set_defaults(func=cmd_simulate)

    insights = commands.add_parser("insights", help="carrier performance").add_subparsers(
        dest="insights_command", required=True
    )
    compare = insights.add_parser(
        "compare",
        help="compare carriers per lane: a table, and a chart and CSV on request",
        description="Reads the configured database for --merchant, or asks a server (--target, API key in "
        "BACKHAUL_API_KEY).",
    )
    compare.add_argument("--lane", default="", help="COUNTRY-HUB, e.g. DE-EU_HUB (DE- or -EU_HUB: any)")
    compare.add_argument("--since", default="90d", help="e.g. 90d, 12w, or an ISO date")
    compare.add_argument("--until", help="ISO date or date-time; default now")
    compare.add_argument("--currency", default="", help="currency of the costs; default the FX base")
    compare.add_argument("--group-by", choices=_GROUP_BY, default="carrier_service_lane")
    compare.add_argument("--carrier", action="append", default=[], help="only this carrier account")
    compare.add_argument("--top-skus", type=int, default=5, help="SKUs per lane in the return reasons")
    compare.add_argument("--merchant", default="demo-merchant", help="merchant id (reading the database)")
    compare.add_argument("--target", help="HOST:PORT of a server to ask instead of the database")
    compare.add_argument("--timeout", type=float, default=30.0, help="deadline of the call in seconds")
    compare.add_argument("--tls", action="store_true", help="TLS with the system's root certificates")
    compare.add_argument("--ca-file", help="TLS trusting this PEM CA bundle")
    compare.add_argument("--chart", help="write a PNG chart to this file")
    compare.add_argument("--csv", help="write the rows as CSV to this file")
    compare.set_defaults(func=cmd_insights_compare)

    commands.add_parser("version", help="print the version").set_defaults(func=cmd_version)
    commands.add_parser("config", help="list the BACKHAUL_* settings").set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
