"""EasyPost carrier adapter (entry point `easypost` in `backhaul.carriers`)."""

from carriers.easypost.adapter import EasyPostCarrier

__all__ = ["EasyPostCarrier"]
