"""Tracking: one status model, a durable event log with cursors, ingestion from webhooks, polling and
partner pushes, and resumable streams across replicas.

Labels register the parcels they buy: `Tracking.ingestion.register_shipment(...)`, and hand the customer a
tracking token: `Tracking.tokens.issue(merchant_id, label_id)`.
"""

from service.tracking.runtime import Tracking, open_tracking

__all__ = ["Tracking", "open_tracking"]
