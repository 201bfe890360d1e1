"""Shippo carrier adapter (entry point `shippo` in `backhaul.carriers`)."""

from carriers.shippo.adapter import ShippoCarrier

__all__ = ["ShippoCarrier"]
