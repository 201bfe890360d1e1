"""Serve the fake EasyPost and Shippo APIs until interrupted, for a demo or a manual run of the service.

    python -m tests.fakes --easypost-port 8701 --shippo-port 8702 --latency-ms 80

Point carrier accounts at them with `api_base = "http://127.0.0.1:8701/v2"` (easypost) and
`server_url = "http://127.0.0.1:8702"` (shippo); the keys they accept are printed at start.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from tests.fakes.easypost_server import EasyPostFake
from tests.fakes.shippo_server import ShippoFake


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__.splitlines()[0])
    parser.add_argument("--easypost-port", type=int, default=0)
    parser.add_argument("--shippo-port", type=int, default=0)
    parser.add_argument("--easypost-key", default="EZTK_fake_test_key")
    parser.add_argument("--shippo-key", default="shippo_test_fake_key")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    args = parser.parse_args()
    easypost = EasyPostFake(api_key=args.easypost_key)
    shippo = ShippoFake(api_key=args.shippo_key)
    easypost.latency_seconds = shippo.latency_seconds = args.latency_ms / 1000
    with easypost.start(args.easypost_port), shippo.start(args.shippo_port):
        print(f"easypost api_base = {easypost.api_base}   api key {args.easypost_key}", flush=True)
        print(f"shippo server_url = {shippo.server_url}   api key {args.shippo_key}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
