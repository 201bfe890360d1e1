"""Duty reclaim in the service: CalculateDutyReclaim's calculator (rules loaded once, the service's FX
table), and claims with an audit trail: recorded with cross-border return labels
(`Reclaim.labels.record_label_estimate(LabelReturn(...))`), moved by tracking evidence of export, expired
when their window closes, and listed by deadline (`Reclaim.lister`).

The rules and the claim transitions are pure domain (customs.reclaim); this package stores and drives them.
"""

from service.reclaim.calculation import DutyReclaimCalculator, ReclaimRules, load_reclaim_rules
from service.reclaim.label_estimates import LabelReturn
from service.reclaim.runtime import Reclaim, open_reclaim

__all__ = [
    "DutyReclaimCalculator",
    "LabelReturn",
    "Reclaim",
    "ReclaimRules",
    "load_reclaim_rules",
    "open_reclaim",
]
