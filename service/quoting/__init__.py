"""Quoting returns: hubs and routing, return policies, FX, quote tokens, the QuoteReturns use case."""
