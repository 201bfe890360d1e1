"""The floor under bench_quote's figures: what any grpc.aio server pays for QuoteReturn's shape, beside the
same bare echo baseline, driven by bench_quote's client code in the same run.

    .venv/bin/python -m tests.perf.bench_quote_floor                                   # 3 carriers at once
    .venv/bin/python -m tests.perf.bench_quote_floor --carriers 5 --carrier-latency-ms 100 --cpu-us 1500

Servers, each a process of its own with the echo's options and event loop:
- `echo`: the request bytes back (bench_quote's baseline);
- `answer`: a real QuoteReturn response (captured once from `backhaul serve` with the same sandbox
  accounts) sent for every call: what the answer's size costs;
- `fan_out`: parse the request, run one task per carrier (answering at once, or after the carrier latency)
  and wait for all of them, then send that answer: gRPC plus the asyncio fan-out, no application work;
- `fan_out_cpu`: `fan_out` plus --cpu-us of busy CPU per call, --front-share of it before the fan-out and the
  rest after: a model of the application's work, showing what that much CPU per call (and where it falls)
  does to throughput and to p99 with 32 callers.
The last line is one JSON object: per server quote-shaped rps, ratio to the echo's, p50/p99 and server CPU
per call.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable like `python -m`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import grpc

from backhaul.v1 import rates_pb2
from service.demo import german_customer_return
from tests.e2e.server_process import ServerProcess, free_port
from tests.perf import bench_quote

SERVERS = ("echo", "answer", "fan_out", "fan_out_cpu")


def _busy(microseconds: float) -> None:
    """Hold the CPU (and the event loop) for this long, as application code would."""
    until = time.process_time() + microseconds / 1e6
    while time.process_time() < until:
        pass


async def serve(kind: str, port: int, answer: bytes, args: argparse.Namespace) -> None:
    latency = args.carrier_latency_ms / 1000
    front_us = args.cpu_us * args.front_share if kind == "fan_out_cpu" else 0.0
    back_us = args.cpu_us - front_us if kind == "fan_out_cpu" else 0.0

    async def carrier() -> None:
        if latency:
            await asyncio.sleep(latency)

    async def handler(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        if kind == "echo":
            return request
        if kind == "answer":
            return answer
        rates_pb2.QuoteReturnRequest.FromString(request)
        _busy(front_us)
        await asyncio.gather(*(asyncio.ensure_future(carrier()) for _ in range(args.carriers)))
        _busy(back_us)
        return answer

    await bench_quote.serve_bench_method(port, handler)


def captured_answer(workdir: Path, request: bytes, carriers: int) -> bytes:
    """One real QuoteReturn response for `request` from a `backhaul serve` with instant sandbox accounts."""
    (workdir / "carriers.toml").write_text(bench_quote.carriers_toml(carriers, 0.0, False))
    (workdir / "hubs.toml").write_text(bench_quote.HUBS_TOML)
    server = ServerProcess(
        workdir,
        extra_env={
            "BACKHAUL_CARRIERS_FILE": str(workdir / "carriers.toml"),
            "BACKHAUL_HUBS_FILE": str(workdir / "hubs.toml"),
            "BACKHAUL_LOG_LEVEL": "INFO",
        },
    )
    server.start()
    try:
        key = server.create_key("bench-merchant")
        with grpc.insecure_channel(server.target) as channel:
            call = channel.unary_unary(
                bench_quote.QUOTE_METHOD, request_serializer=None, response_deserializer=None
            )
            answer: bytes = call(request, metadata=(("authorization", f"Bearer {key}"),), timeout=10)
    finally:
        server.stop()
    quotes = len(rates_pb2.QuoteReturnResponse.FromString(answer).quotes)
    if quotes == 0:
        raise RuntimeError("the captured answer has no quotes")
    return answer


def main_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as scratch:
        workdir = Path(scratch)
        payload = workdir / "request.bin"
        payload.write_bytes(german_customer_return(dt.datetime.now(dt.UTC).date()).SerializeToString())
        answer = workdir / "answer.bin"
        answer.write_bytes(captured_answer(workdir, payload.read_bytes(), args.carriers))
        processes: dict[str, tuple[int, subprocess.Popen[str]]] = {}
        try:
            for kind in SERVERS:
                port = free_port()
                command = [sys.executable, "-m", "tests.perf.bench_quote_floor", "--role", kind]
                command += ["--port", str(port), "--answer", str(answer), *args.passed]
                process = subprocess.Popen(
                    command, cwd=bench_quote.REPOSITORY, stdout=subprocess.PIPE, text=True
                )
                assert process.stdout is not None
                if process.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"{kind} server did not start")
                processes[kind] = (port, process)
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SERVERS}
            for _ in range(args.rounds):  # alternate, so machine noise hits every server alike
                for kind, (port, process) in processes.items():
                    runs[kind].append(
                        bench_quote.run_client(
                            f"127.0.0.1:{port}", bench_quote.ECHO_METHOD, payload, args, process.pid
                        )
                    )
        finally:
            for _, process in processes.values():
                process.terminate()
                process.wait(timeout=10)
        answer_bytes = answer.stat().st_size
    echo_rps = sum(run["rps"] for run in runs["echo"]) / args.rounds
    servers: dict[str, Any] = {}
    for kind, kind_runs in runs.items():
        rps = sum(run["rps"] for run in kind_runs) / args.rounds
        latencies = [ms for run in kind_runs for ms in run["latencies_ms"]]
        servers[kind] = {
            "rps": round(rps, 1),
            "ratio": round(rps / echo_rps, 3) if echo_rps else None,
            "p50_ms": round(bench_quote.percentile(latencies, 0.50), 2),
            "p99_ms": round(bench_quote.percentile(latencies, 0.99), 2),
            "server_cpu_us_per_call": bench_quote._cpu_per_call(kind_runs),
        }
    return {
        "benchmark": "quote_floor",
        "carriers": args.carriers,
        "carrier_latency_ms": args.carrier_latency_ms,
        "cpu_us": args.cpu_us,
        "front_share": args.front_share,
        "clients": args.clients,
        "answer_bytes": answer_bytes,
        "servers": servers,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = bench_quote.build_parser(__doc__, SERVERS)
    parser.add_argument("--cpu-us", type=float, default=1000.0, help="fan_out_cpu's busy CPU per call")
    parser.add_argument(
        "--front-share", type=float, default=0.25, help="share of --cpu-us spent before the fan-out"
    )
    parser.add_argument("--answer", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.role in SERVERS:
        bench_quote._run(serve(args.role, args.port, Path(args.answer).read_bytes(), args))
        return
    # The server processes take the same --carriers / --carrier-latency-ms / --cpu-us / --front-share.
    args.passed = [
        f"--carriers={args.carriers}",
        f"--carrier-latency-ms={args.carrier_latency_ms}",
        f"--cpu-us={args.cpu_us}",
        f"--front-share={args.front_share}",
    ]
    print(json.dumps(main_benchmark(args)))


if __name__ == "__main__":
    main()
