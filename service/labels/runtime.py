"""The labels capability of one running instance: its use cases and its reconciler.

`open_labels` wires them and settles what an earlier crash left behind before the service takes calls;
`Labels.close` stops reconciling and lets purchases in flight record their outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from carriers.accounts import CarrierAccount
from carriers.resilience import ResilientCarrier
from service.customs_declarations import CustomsDeclarations
from service.labels.label_files import HttpLabelFiles, LabelFiles
from service.labels.model import TrackingTokenIssuer
from service.labels.paperwork import LabelPaperwork
from service.labels.planning import PurchasePlanner
from service.labels.purchasing import LabelPurchaser, ParcelRegistry, ReclaimRecorder
from service.labels.reconciliation import LabelReconciler, ReconciliationReport
from service.labels.repository import LabelRepository
from service.labels.use_case import LabelReclaimClaims, LabelSettings, ReturnLabels
from service.quoting.hubs import HubDirectory
from service.quoting.policy import ReturnPolicyBook
from service.quoting.token import QuoteTokenSigner
from service.storage.engine import Database


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class LabelsConfig:
    purchase_budget_seconds: float
    reconcile_after_seconds: float  # grace period of a pending intent; longer than the purchase budget
    reconcile_interval_seconds: float
    tracking_page_url: str  # template with {tracking_number}, {label_id} and/or {tracking_token}

    def __post_init__(self) -> None:
        if self.reconcile_after_seconds <= self.purchase_budget_seconds:
            raise ValueError("the reconciliation grace period must be longer than the purchase budget")


@dataclass
class Labels:
    use_case: ReturnLabels
    reconciler: LabelReconciler
    startup_report: ReconciliationReport
    label_files: LabelFiles
    render_executor: ThreadPoolExecutor

    async def close(self) -> None:
        await self.reconciler.close()
        await self.use_case.close()
        await self.label_files.close()
        self.render_executor.shutdown(wait=True)


async def open_labels(
    config: LabelsConfig,
    *,
    database: Database,
    carriers: Mapping[str, ResilientCarrier],
    accounts: Mapping[str, CarrierAccount],
    hubs: HubDirectory,
    policies: ReturnPolicyBook,
    declarations: CustomsDeclarations,
    quote_tokens: QuoteTokenSigner,
    tracking: ParcelRegistry | None,
    tracking_tokens: TrackingTokenIssuer,
    reclaim: ReclaimRecorder | None = None,
    label_claims: LabelReclaimClaims | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    reconcile: bool = True,
    label_files: LabelFiles | None = None,
) -> Labels:
    repository = LabelRepository(database)
    planner = PurchasePlanner(
        carriers=carriers, accounts=accounts, hubs=hubs, declarations=declarations, quote_tokens=quote_tokens
    )
    label_files = label_files or HttpLabelFiles()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="label-documents")
    purchaser = LabelPurchaser(
        repository=repository,
        planner=planner,
        paperwork=LabelPaperwork(
            policies=policies, tracking_page_url=config.tracking_page_url, tracking_tokens=tracking_tokens
        ),
        label_files=label_files,
        tracking=tracking,
        reclaim=reclaim,
        clock=clock,
        budget_seconds=config.purchase_budget_seconds,
        render_executor=executor,
    )
    reconciler = LabelReconciler(
        repository=repository,
        purchaser=purchaser,
        clock=clock,
        grace=dt.timedelta(seconds=config.reconcile_after_seconds),
        interval_seconds=config.reconcile_interval_seconds,
    )
    use_case = ReturnLabels(
        repository=repository,
        planner=planner,
        purchaser=purchaser,
        hubs=hubs,
        tokens=tracking_tokens,
        label_files=label_files,
        label_claims=label_claims,
        settings=LabelSettings(purchase_budget_seconds=config.purchase_budget_seconds),
        clock=clock,
    )
    report = ReconciliationReport()
    if reconcile:
        report = await reconciler.run_once()
        reconciler.start()
    return Labels(use_case, reconciler, report, label_files, executor)
