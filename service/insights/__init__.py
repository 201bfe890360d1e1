"""Carrier performance on the return leg: CompareCarriers, lane figures fed back into quotes, quote outcome
counters, return legs recorded as parcels enter tracking, and the history simulator.

`open_insights(...)` builds the capability (service/insights/runtime.py); the servicer calls
`Insights.comparisons` (CarrierComparisons.compare).
"""

from service.insights.runtime import Insights, InsightsConfig, open_insights

__all__ = ["Insights", "InsightsConfig", "open_insights"]
