"""Prometheus metrics of planning and dispatching, in a registry of their own (one per service)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from kizuna.core.status import DeliveryStatus
from kizuna.dispatcher import DispatchSummary
from kizuna.planner import PlanSummary


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.planned = Counter("kizuna_planned", "Deliveries planned", registry=self.registry)
        self.deliveries = Counter(
            "kizuna_deliveries", "Dispatch outcomes", ["outcome", "channel"], registry=self.registry
        )
        self.run_seconds = Histogram(
            "kizuna_run_seconds", "Duration of scheduled runs", ["job"], registry=self.registry
        )

    def record_plan(self, summary: PlanSummary) -> None:
        self.planned.inc(summary.planned)

    def record_dispatch(self, summary: DispatchSummary) -> None:
        for outcome in summary.outcomes:
            if outcome.subscriber_gone:
                name = "gone"
            elif outcome.status == DeliveryStatus.PLANNED:
                name = "retried"  # sent back to wait for another attempt
            else:
                name = str(outcome.status)
            self.deliveries.labels(outcome=name, channel=outcome.channel).inc()
