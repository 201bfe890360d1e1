"""Benchmark: QuoteReturn of a real `backhaul serve` process against a bare grpc.aio echo server.

    .venv/bin/python -m tests.perf.bench_quote                       # 3 carriers answering at once
    .venv/bin/python -m tests.perf.bench_quote --carrier-latency-ms 100 --carriers 5
    .venv/bin/python -m tests.perf.bench_quote --hang-one            # one of the carriers never answers

The Backhaul server runs as its own process with N in-process `sandbox` carrier accounts (latency as given,
no jitter, no concurrency limit) routed through the EU hub; the echo server is a second process answering
the same request bytes with themselves, with no interceptor, on the same event loop implementation
(uvloop when installed, as `backhaul serve` uses) and the same server options. One client process (or
--client-processes) drives each server in turn with the same code: --clients concurrent callers on one
channel, sending pre-serialised request bytes. Rounds alternate echo and quote so machine noise hits both
alike. The last line of output is one JSON object: quote_rps, echo_rps, ratio (quote_rps / echo_rps),
p50_ms and p99_ms of QuoteReturn, each server's CPU time per call (what bounds the rates on a shared
machine), and with --hang-one calls_answered_by_deadline and hanging_carrier_error_entries.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable like `python -m`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import grpc

from backhaul.v1 import rates_pb2
from service.cli import serving_loop_factory
from service.demo import german_customer_return
from tests.e2e.server_process import ServerProcess, free_port

QUOTE_METHOD = "/backhaul.v1.RatesService/QuoteReturn"
ECHO_METHOD = "/bench.Echo/Echo"
# The options BackhaulServer gives its grpc.aio server, so the echo baseline runs with the same ones.
SERVER_OPTIONS = [("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)]
REPOSITORY = Path(__file__).resolve().parents[2]
# The sandbox accounts are in-process simulations with no connection pool to protect: the per-account
# concurrency limit (16 by default) would otherwise queue the 32 callers' calls to each account.
MAX_CONCURRENCY = 1024

HUBS_TOML = """
source = "benchmark"
effective_from = 2026-01-01
default_hub = "EU_HUB"
[[hubs]]
id = "EU_HUB"
name = "EU returns hub, Venlo"
countries = ["DE", "NL"]
[hubs.contact]
name = "Backhaul Returns EU"
[hubs.address]
region_code = "NL"
address_lines = ["Columbusweg 12"]
locality = "Venlo"
postal_code = "5928 LC"
"""


def _loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """The event loop `backhaul serve` runs on, and its name."""
    factory = serving_loop_factory()
    return ("asyncio" if factory is None else factory.__module__.partition(".")[0]), factory


def _run(coroutine: Any) -> Any:
    with asyncio.Runner(loop_factory=_loop_factory()[1]) as runner:
        return runner.run(coroutine)


def carriers_toml(count: int, latency_ms: float, hang_one: bool) -> str:
    """N sandbox accounts; with `hang_one` the last never answers, and its circuit breaker never opens so
    that every call waits for it until the deadline (the worst case, not the fail-fast one)."""
    accounts = []
    for index in range(1, count + 1):
        hangs = hang_one and index == count
        mode = "hang" if hangs else "normal"
        breaker = "breaker_failure_threshold = 1000000\n" if hangs else ""
        accounts.append(
            f"""
[[accounts]]
id = "bench-{index}"
adapter = "sandbox"
carrier = "Bench Carrier {index}"
[accounts.options]
latency_ms = {latency_ms}
mode = "{mode}"
seed = {index}
currency = "{"EUR" if index % 2 else "USD"}"
[accounts.policy]
max_concurrency = {MAX_CONCURRENCY}
{breaker}"""
        )
    return "".join(accounts)


# Echo server (role) ----------------------------------------------------------------------------------------


BenchHandler = Callable[[bytes, grpc.aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]


async def serve_echo(port: int) -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return request

    await serve_bench_method(port, echo)


async def serve_bench_method(port: int, handler: BenchHandler) -> None:
    """Serve `handler` as ECHO_METHOD (bytes in, bytes out) with the Backhaul server's options; print
    "ready" once listening (the orchestrator waits for it)."""
    server = grpc.aio.server(options=SERVER_OPTIONS)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(handler)}
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


# Client (role) ---------------------------------------------------------------------------------------------


async def drive(args: argparse.Namespace, payload: bytes) -> dict[str, Any]:
    metadata = (("authorization", f"Bearer {args.api_key}"),) if args.api_key else None
    timeout = args.deadline_ms / 1000
    hanging = args.hanging_account
    results: dict[str, Any] = {
        "latencies_ms": [],
        "codes": Counter(),
        "late": 0,
        "hang_codes": Counter(),
        "calls_all": 0,
    }

    async with grpc.aio.insecure_channel(args.target) as channel:
        # Bytes in, bytes out: no client-side (de)serialisation, so both servers see the same client.
        call = channel.unary_unary(args.method, request_serializer=None, response_deserializer=None)

        async def caller(until: float, budget: list[int], record: bool) -> None:
            loop = asyncio.get_running_loop()
            while loop.time() < until and budget[0] != 0:
                budget[0] -= 1
                results["calls_all"] += 1
                started = time.perf_counter()
                try:
                    reply = await call(payload, metadata=metadata, timeout=timeout)
                except grpc.aio.AioRpcError as error:
                    if record:
                        results["codes"][error.code().name] += 1
                    continue
                elapsed = time.perf_counter() - started
                if not record:
                    continue
                results["codes"]["OK"] += 1
                results["latencies_ms"].append(round(elapsed * 1000, 3))
                results["late"] += elapsed > timeout
                if hanging:
                    response = rates_pb2.QuoteReturnResponse.FromString(reply)
                    for entry in response.errors:
                        if entry.carrier.account_id == hanging:
                            results["hang_codes"][rates_pb2.CarrierErrorCode.Name(entry.code)] += 1

        async def phase(seconds: float, requests: int, record: bool) -> float:
            loop = asyncio.get_running_loop()
            started = loop.time()
            budget = [requests or -1]
            await asyncio.gather(
                *(caller(started + seconds, budget, record) for _ in range(args.clients)),
            )
            return loop.time() - started

        await phase(args.warmup, 0, record=False)
        results["elapsed_s"] = await phase(args.duration if not args.requests else 1e9, args.requests, True)
    return results


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(
    target: str, method: str, payload: Path, args: argparse.Namespace, server_pid: int, **extra: str
) -> dict[str, Any]:
    """Drive one server from separate client processes; their results merged, with the server's CPU time
    over the run (warm-up included, as in `calls_all`)."""
    cpu_before = cpu_seconds(server_pid)
    processes = []
    per_process = [args.clients // args.client_processes] * args.client_processes
    per_process[0] += args.clients - sum(per_process)
    for clients in per_process:
        command = [
            sys.executable,
            "-m",
            "tests.perf.bench_quote",
            "--role",
            "client",
            "--target",
            target,
            "--method",
            method,
            "--payload",
            str(payload),
            "--clients",
            str(clients),
            "--duration",
            str(args.duration / args.rounds),
            "--requests",
            str(args.requests // args.rounds // args.client_processes if args.requests else 0),
            "--warmup",
            str(args.warmup),
            "--deadline-ms",
            str(args.deadline_ms),
        ]
        for name, value in extra.items():
            command += [f"--{name.replace('_', '-')}", value]
        processes.append(
            subprocess.Popen(
                command, cwd=REPOSITORY, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
            )
        )
    merged: dict[str, Any] = {
        "latencies_ms": [],
        "codes": Counter(),
        "late": 0,
        "hang_codes": Counter(),
        "rps": 0.0,
        "calls_all": 0,
    }
    for process in processes:
        out, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"client process failed ({process.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        merged["latencies_ms"] += result["latencies_ms"]
        merged["codes"].update(result["codes"])
        merged["hang_codes"].update(result["hang_codes"])
        merged["late"] += result["late"]
        merged["rps"] += result["codes"].get("OK", 0) / result["elapsed_s"]
        merged["calls_all"] += result["calls_all"]
    merged["server_cpu_s"] = cpu_seconds(server_pid) - cpu_before
    return merged


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# Orchestration ---------------------------------------------------------------------------------------------


def _start_echo(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.perf.bench_quote", "--role", "echo-server", "--port", str(port)],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("echo server did not start")
    return process


def main_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    loop_name = _loop_factory()[0]
    with tempfile.TemporaryDirectory(prefix="bench-quote-") as scratch:
        workdir = Path(scratch)
        (workdir / "carriers.toml").write_text(
            carriers_toml(args.carriers, args.carrier_latency_ms, args.hang_one)
        )
        (workdir / "hubs.toml").write_text(HUBS_TOML)
        payload = workdir / "request.bin"
        request = german_customer_return(dt.datetime.now(dt.UTC).date())
        payload.write_bytes(request.SerializeToString())
        server = ServerProcess(
            workdir,
            extra_env={
                "BACKHAUL_CARRIERS_FILE": str(workdir / "carriers.toml"),
                "BACKHAUL_HUBS_FILE": str(workdir / "hubs.toml"),
                "BACKHAUL_LOG_LEVEL": "INFO",
                "BACKHAUL_AUTH_CACHE_SECONDS": "300",
            },
        )
        echo_port = free_port()
        echo = _start_echo(echo_port)
        server.start()
        try:
            key = server.create_key("bench-merchant")
            hanging = {"hanging_account": f"bench-{args.carriers}"} if args.hang_one else {}
            echo_runs, quote_runs = [], []
            assert server.process is not None
            for _ in range(args.rounds):
                echo_runs.append(run_client(f"127.0.0.1:{echo_port}", ECHO_METHOD, payload, args, echo.pid))
                quote_runs.append(
                    run_client(
                        server.target, QUOTE_METHOD, payload, args, server.process.pid, api_key=key, **hanging
                    )
                )
        finally:
            server.stop()
            echo.terminate()
            echo.wait(timeout=10)
    quote_rps = sum(r["rps"] for r in quote_runs) / args.rounds
    echo_rps = sum(r["rps"] for r in echo_runs) / args.rounds
    latencies = [ms for r in quote_runs for ms in r["latencies_ms"]]
    echo_latencies = [ms for r in echo_runs for ms in r["latencies_ms"]]
    codes: Counter[str] = sum((r["codes"] for r in quote_runs), Counter())
    result: dict[str, Any] = {
        "benchmark": "quote_return",
        "carriers": args.carriers,
        "carrier_latency_ms": args.carrier_latency_ms,
        "clients": args.clients,
        "client_processes": args.client_processes,
        "loop": loop_name,
        "quote_calls": len(latencies),
        "quote_rps": round(quote_rps, 1),
        "echo_rps": round(echo_rps, 1),
        "ratio": round(quote_rps / echo_rps, 3) if echo_rps else None,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "echo_p50_ms": round(percentile(echo_latencies, 0.50), 2),
        "echo_p99_ms": round(percentile(echo_latencies, 0.99), 2),
        "quote_status_codes": dict(codes),
        # CPU time of each server process per call: what bounds the rates on a shared machine.
        "quote_server_cpu_us_per_call": _cpu_per_call(quote_runs),
        "echo_server_cpu_us_per_call": _cpu_per_call(echo_runs),
    }
    if args.hang_one:
        hang_codes: Counter[str] = sum((r["hang_codes"] for r in quote_runs), Counter())
        calls = sum(codes.values())
        late = sum(r["late"] for r in quote_runs)
        result.update(
            deadline_ms=args.deadline_ms,
            calls=calls,
            calls_answered_by_deadline=codes.get("OK", 0) - late,
            hanging_carrier_error_entries=sum(hang_codes.values()),
            hanging_carrier_error_codes=dict(hang_codes),
        )
    return result


def _cpu_per_call(runs: list[dict[str, Any]]) -> float:
    calls = sum(r["calls_all"] for r in runs)
    return round(sum(r["server_cpu_s"] for r in runs) / calls * 1e6, 1) if calls else float("nan")


def build_parser(
    description: str | None = __doc__, server_roles: tuple[str, ...] = ("echo-server",)
) -> argparse.ArgumentParser:
    """The options (bench_quote_floor.py adds its own server roles and options to them)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--carriers", type=int, default=3, help="sandbox carrier accounts on the server")
    parser.add_argument("--carrier-latency-ms", type=float, default=0.0, help="each carrier's answer time")
    parser.add_argument("--clients", type=int, default=32, help="concurrent callers")
    parser.add_argument(
        "--client-processes", type=int, default=1, help="client processes sharing the callers"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per server")
    parser.add_argument("--requests", type=int, default=0, help="measure this many calls per server instead")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of echo and quote")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    parser.add_argument("--deadline-ms", type=float, default=1000.0, help="deadline of every call")
    parser.add_argument("--hang-one", action="store_true", help="the last carrier never answers")
    parser.add_argument(
        "--role", choices=["bench", "client", *server_roles], default="bench", help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--payload", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--hanging-account", default="", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.role == "echo-server":
        _run(serve_echo(args.port))
    elif args.role == "client":
        print(json.dumps(_run(drive(args, Path(args.payload).read_bytes()))))
    else:
        print(json.dumps(main_benchmark(args)))


if __name__ == "__main__":
    main()
