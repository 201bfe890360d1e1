"""Local partners without an API, described by rate cards (carriers/ratecard/cards/*.toml)."""

from carriers.ratecard.adapter import RateCardCarrier

__all__ = ["RateCardCarrier"]
