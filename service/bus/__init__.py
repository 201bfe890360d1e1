"""The event bus: fan-out of committed events between the replicas of the service.

The bus carries notifications of what is already durable elsewhere (the database); it is never the record.
`memory://` is the in-process default; `nats://host:4222` uses NATS JetStream so an event committed on one
replica reaches subscribers connected to another.
"""

from service.bus.port import BusMessage, BusSubscription, EventBus, open_bus

__all__ = ["BusMessage", "BusSubscription", "EventBus", "open_bus"]
