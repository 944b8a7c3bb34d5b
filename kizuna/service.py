"""The running service: planning as each time zone's day begins, dispatching what is due.

The scheduler is only a clock: every job is a plain method taking `now`, so tests pass time
in instead of waiting for it, and running a job twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from kizuna.channels.base import Channels
from kizuna.dispatcher import Dispatcher, DispatchSummary
from kizuna.planner import PlanScope, PlanSummary, plan_day
from kizuna.retention import RetentionPolicy, RetentionSummary, run_retention
from kizuna.runtime import Runtime, dispatch_options, plan_child, plan_options
from kizuna.store import SqlStore
from kizuna.web.health import ServiceStatus

log = logging.getLogger(__name__)
PLAN_CHECK_SECONDS = 300  # how soon after a local midnight that day is planned


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    """Planning and dispatching jobs over one runtime and its channels."""

    def __init__(
        self,
        runtime: Runtime,
        channels: Channels,
        status: ServiceStatus,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.runtime = runtime
        self.status = status
        self._clock = clock
        self._store = SqlStore(runtime.engine)
        # Scheduled runs skip what is too late; a manual `kizuna send` does not.
        stale = timedelta(days=runtime.settings.stale_after_days)
        options = replace(dispatch_options(runtime.settings), stale_after=stale)
        self._dispatcher = Dispatcher(
            self._store, runtime.catalog, channels, options, clock=lambda: self._clock()
        )
        self._planned: dict[str, date] = {}  # time zone -> last local date planned here
        self._seen_follow_id = 0  # follows up to this one were there at the last planning
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task] = set()

    # -- jobs (time passed in) ---------------------------------------------------------------

    def plan_due(self, now: datetime) -> dict[str, list[date]]:
        """Plan each time zone's local dates not yet planned by this process.

        On the first run that is the last `stale_after_days` days and today (catch-up after
        downtime: what was missed and is not too late still goes out); afterwards, each new day
        as it begins. Returns the dates planned per time zone.
        """
        settings = self.runtime.settings
        newest = self._store.last_follow_id()
        done: dict[str, list[date]] = {}
        for timezone in self._store.timezones(default=settings.timezone):
            today = now.astimezone(ZoneInfo(timezone)).date()
            first = self._planned.get(timezone)
            start = today - timedelta(days=settings.stale_after_days) if first is None else first
            days = [start + timedelta(days=n) for n in range((today - start).days + 1)]
            days = [day for day in days if first is None or day > first]
            scope = PlanScope(settings.timezone, timezone=timezone)
            for day in days:
                self._plan(day, scope, now)
            if days:
                done[timezone] = days
            else:  # those who joined since the last run get today's message today
                self._plan(today, replace(scope, after_follow_id=self._seen_follow_id), now)
            self._planned[timezone] = today
        self._seen_follow_id = newest
        return done

    def replan_child(self, child_id: int, now: datetime) -> PlanSummary:
        """After a date change: plan today again for the child's followers, from the new dates."""
        summary = plan_child(self.runtime, child_id, now=now)
        self.status.metrics.record_plan(summary)
        return summary

    def _plan(self, day: date, scope: PlanScope, now: datetime) -> PlanSummary:
        rt = self.runtime
        summary = plan_day(
            self._store, rt.catalog, day, plan_options(rt.settings), now=now, scope=scope
        )
        self.status.metrics.record_plan(summary)
        return summary

    async def dispatch_due(self, now: datetime) -> DispatchSummary:
        """Send everything due by `now`, retries whose time has come, and expired claims."""
        summary = await self._dispatcher.run(now=now)
        self.status.metrics.record_dispatch(summary)
        return summary

    def retain(self, now: datetime) -> RetentionSummary:
        """Erase what has been kept long enough at `now` (daily); returns what was removed."""
        settings = self.runtime.settings
        secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
        return run_retention(
            self.runtime.engine, now=now, policy=RetentionPolicy.of(settings), secret=secret
        )

    # -- the clock ---------------------------------------------------------------------------

    async def _job(self, name: str, work) -> None:
        started = time.perf_counter()
        task = asyncio.current_task()
        self._running.add(task)
        try:
            result = work(self._clock())
            if asyncio.iscoroutine(result):
                await result
            self.status.last_success[name] = self._clock()
            self.status.last_error.pop(name, None)
        except Exception as error:  # a failed run is reported and retried at the next tick
            log.exception("job %s failed", name)
            self.status.last_error[name] = type(error).__name__
        finally:
            self._running.discard(task)
            self.status.metrics.run_seconds.labels(job=name).observe(time.perf_counter() - started)

    def start(self, *, dispatch_only: bool = False) -> None:
        """Start the jobs on the running event loop; each runs one at a time, missed runs merge."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        # The scheduler keeps its own wall clock for *when* to run; jobs read `self._clock`
        # for the business time. A run that is late runs anyway (coalesced), never skipped.
        defaults = {
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None,
            "next_run_time": datetime.now(UTC),
        }  # fmt: skip
        if not dispatch_only:
            plan = IntervalTrigger(seconds=PLAN_CHECK_SECONDS)
            scheduler.add_job(
                self._job, plan, args=("plan", self._plan_async), id="plan", **defaults
            )
            daily = IntervalTrigger(days=1)
            scheduler.add_job(
                self._job, daily, args=("retention", self._retain_async), id="retention",
                **defaults,
            )  # fmt: skip
        every = IntervalTrigger(seconds=self.runtime.settings.dispatch_interval_seconds)
        scheduler.add_job(
            self._job, every, args=("dispatch", self.dispatch_due), id="dispatch", **defaults
        )
        scheduler.start()
        self._scheduler = scheduler
        self.status.scheduler_running = True

    async def _plan_async(self, now: datetime) -> None:
        planned = await asyncio.to_thread(self.plan_due, now)
        if planned and self._scheduler is not None:
            # A new day was planned: what is already due goes now, not at the next tick.
            self._scheduler.modify_job("dispatch", next_run_time=datetime.now(UTC))

    async def _retain_async(self, now: datetime) -> None:
        await asyncio.to_thread(self.retain, now)

    async def stop(self) -> None:
        """Stop claiming, let the batch in flight finish and be recorded, stop the clock."""
        self._dispatcher.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self.status.scheduler_running = False
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
