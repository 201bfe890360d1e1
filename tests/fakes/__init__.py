"""Loopback fake carrier APIs (EasyPost, Shippo) for contract tests, benchmarks and the demo.

Run both standalone with `python -m tests.fakes` (see __main__.py).
"""

from tests.fakes.easypost_server import EasyPostFake
from tests.fakes.loopback import Fault, LoopbackServer, RecordedRequest
from tests.fakes.shippo_server import ShippoFake

__all__ = ["EasyPostFake", "Fault", "LoopbackServer", "RecordedRequest", "ShippoFake"]
