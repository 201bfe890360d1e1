"""Return labels: exactly-once purchases under an idempotency key, customs documents, voids, reconciliation.

`open_labels(...)` builds the capability (service/labels/runtime.py); the servicer calls `Labels.use_case`
(ReturnLabels: create, get, list_labels, void). Rate-card partners draw S10 numbers from the database
(`DatabaseSerialAllocator`, installed with `use_durable_serials`).
"""

from service.labels.runtime import Labels, LabelsConfig, open_labels
from service.labels.serials import DatabaseSerialAllocator, use_durable_serials

__all__ = ["DatabaseSerialAllocator", "Labels", "LabelsConfig", "open_labels", "use_durable_serials"]
