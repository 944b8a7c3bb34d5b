"""Dispatching: claim due deliveries, render, send through the channel, record the result."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from jinja2 import TemplateError

from kizuna.channels.base import Channels, Envelope, SendResult
from kizuna.core.catalog import Catalog, Message
from kizuna.core.local_info import local_info
from kizuna.core.status import ChannelName, DeliveryStatus, SendStatus, SubscriberStatus
from kizuna.planner import new_key
from kizuna.pushes import Group, form_groups
from kizuna.rendering import RenderContext, Rendered, Renderer, from_municipality

RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 6 * 3600
QUOTA_WAIT = timedelta(hours=1)  # a delivery over the monthly quota waits, planned
RENDERED_KEPT = 4096  # a day's deliveries share a few thousand texts (BENCHMARKS.md)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed for sending, with what rendering and addressing need."""

    delivery_id: int
    subscriber_id: int
    idempotency_key: str
    message_id: str
    variant: str
    stage_label: str
    attempts: int
    channel: str
    address: str
    subscriber_status: str
    nickname: str
    municipality_name: str
    receives_local_info: bool
    consecutive_failures: int = 0
    locale: str = "ja"  # the subscriber's UI language: mail footers and links
    municipality_code: str | None = None
    child_id: int = 0
    from_municipality: bool = False
    push_key: str | None = None  # the stored group this delivery is sent in (kizuna.pushes)
    multicast: bool = False
    fresh: bool = False  # never tried and in no group: free to join a new one


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to record for one claimed delivery."""

    delivery_id: int
    subscriber_id: int
    status: DeliveryStatus
    attempts: int
    channel: str = ""
    next_attempt_at: datetime | None = None
    error: str | None = None
    skip_reason: str | None = None
    subscriber_gone: bool = False
    subscriber_paused: bool = False


class DispatchStore(Protocol):
    """The storage dispatching needs; `kizuna.store.SqlStore` provides it."""

    def claim(
        self,
        *,
        now: datetime,
        through_local_date: date | None,
        limit: int,
        worker: str,
        until: datetime,
        by_content: bool = False,
    ) -> list[Claimed]: ...

    def record(self, outcomes: list[Outcome], *, worker: str, now: datetime) -> None: ...

    def release(self, delivery_ids: list[int], *, worker: str) -> None:
        """Our claim on these deliveries ends untried: they are planned again, as they were."""
        ...

    def skip_stale(self, *, due_before: datetime, reason: str) -> int: ...

    def local_info(self, codes: set[str]) -> dict[str, dict[str, str]]:
        """Each municipality's local information, every key present ("" when not given)."""
        ...

    def senders(self, codes: set[str]) -> dict[str, str]:
        """How each municipality marks its own messages (〇〇市より)."""
        ...

    def set_push_keys(self, groups: list[tuple[str, bool, list[int]]]) -> None:
        """Store each new group's (retry key, multicast, delivery ids) before it is sent."""
        ...

    def count_due(self, *, now: datetime, through_local_date: date | None, channel: str) -> int: ...


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    worker: str
    allow_unreviewed: bool
    batch_size: int = 500
    concurrency: int = 16
    claim_seconds: int = 300
    max_attempts: int = 8
    max_consecutive_failures: int = 5  # then the subscriber is paused
    max_bounces: int = 3  # hard bounces in a row before an email subscriber is gone
    stale_after: timedelta | None = None  # scheduled runs skip deliveries later than this
    multicast: bool = False  # identical texts to many subscribers in one request (LINE)


Recording = tuple[list[Outcome], datetime]  # a batch's outcomes and when it was claimed


@dataclass(frozen=True, slots=True)
class Batch:
    """Deliveries claimed together at `now`, with their municipalities' local information."""

    now: datetime
    claimed: list[Claimed]
    local: dict[str, dict[str, str]] = field(default_factory=dict)
    senders: dict[str, str] = field(default_factory=dict)


@dataclass
class DispatchSummary:
    counts: Counter[str] = field(default_factory=Counter)
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what an operator should hear about

    @property
    def sent(self) -> int:
        return self.counts[DeliveryStatus.SENT]


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter, so retries of many deliveries do not arrive together."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def decide(
    claimed: Claimed, result: SendResult, *, now: datetime, options: DispatchOptions,
    rng: random.Random,
) -> Outcome:  # fmt: skip
    """Turn a channel's answer into what is recorded: the dispatcher alone decides this."""
    attempts = claimed.attempts + 1
    base = {
        "delivery_id": claimed.delivery_id,
        "subscriber_id": claimed.subscriber_id,
        "channel": claimed.channel,
        "attempts": attempts,
    }
    if result.status is SendStatus.SENT:
        return Outcome(**base, status=DeliveryStatus.SENT)
    if result.status is SendStatus.RETRY and attempts < options.max_attempts:
        delay = retry_delay(attempts, rng)
        if result.retry_after_seconds is not None:
            delay = max(delay, timedelta(seconds=result.retry_after_seconds))
        return Outcome(
            **base, status=DeliveryStatus.PLANNED, next_attempt_at=now + delay, error=result.detail
        )
    failures = claimed.consecutive_failures + 1
    gone = result.status is SendStatus.GONE
    if gone and claimed.channel == ChannelName.EMAIL:
        # One hard bounce can be a full mailbox or a relay's mistake; a run of them is not.
        gone = failures >= options.max_bounces
    return Outcome(
        **base, status=DeliveryStatus.FAILED, error=result.detail or str(result.status),
        subscriber_gone=gone,
        subscriber_paused=not gone and failures >= options.max_consecutive_failures,
    )  # fmt: skip


class Dispatcher:
    """Sends what is due through the registered channels, batch by batch."""

    def __init__(
        self,
        store: DispatchStore,
        catalog: Catalog,
        channels: Channels,
        options: DispatchOptions,
        *,
        renderer: Renderer | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._channels = channels
        self._options = options
        self._renderer = renderer or Renderer()
        self._rendered: dict[tuple, Rendered] = {}
        self._rng = rng or random.Random()
        self._stopping = False
        # With a clock, each batch is claimed at the time it is claimed: a long run must not
        # hand out claims that are already expired. Without one, `now` is used throughout.
        self._clock = clock
        self._budget: dict[str, int] = {}
        self._local: dict[str, dict[str, str]] = {}  # the batch's municipalities' local info
        self._senders: dict[str, str] = {}  # and how each marks its own messages

    def stop(self) -> None:
        """Claim nothing more; the batch in flight is finished and recorded."""
        self._stopping = True

    async def run(
        self, *, now: datetime, through_local_date: date | None = None
    ) -> DispatchSummary:
        """Dispatch until nothing due is left; each delivery is claimed by one worker at a time.

        Storage calls run in a thread so that a web app sharing the event loop stays responsive.
        """
        summary = DispatchSummary()
        options = self._options
        if options.stale_after is not None:
            reason = f"more than {options.stale_after.days} days late"
            skipped = await asyncio.to_thread(
                self._store.skip_stale, due_before=now - options.stale_after, reason=reason
            )
            summary.counts[DeliveryStatus.SKIPPED] += skipped
        self._budget = await self._quota_budget(now, through_local_date, summary)
        unrecorded: Recording = ([], now)
        ahead: asyncio.Future | None = self._ahead(now, through_local_date)
        try:
            while ahead is not None:
                batch, ahead = await ahead, None
                if not batch.claimed:
                    break
                if self._too_old(batch):  # waited too long behind a slow batch: claim afresh,
                    # after recording the slow batch: its own claim may have run out by now.
                    ahead = self._ahead(batch.now, through_local_date, record=unrecorded,
                                        release=batch.claimed)  # fmt: skip
                    unrecorded = ([], now)
                    continue
                now = batch.now
                # While this batch is sent, a thread records the last one and claims the
                # next: the database's work overlaps the sends instead of stalling them.
                ahead = self._ahead(now, through_local_date, record=unrecorded)
                unrecorded = ([], now)
                self._local, self._senders = batch.local, batch.senders
                outcomes = await self._send_batch(batch.claimed, now)
                unrecorded = (outcomes, now)
                for outcome in outcomes:
                    summary.counts[outcome.status] += 1
                    summary.outcomes.append(outcome)
                if self._stopping:
                    break
        finally:
            if ahead is not None:  # stopped: anything claimed ahead goes back, untried
                await asyncio.to_thread(self._release, (await ahead).claimed)
            await asyncio.to_thread(self._record, unrecorded)
        return summary

    def _ahead(
        self,
        now: datetime,
        through_local_date: date | None,
        *,
        record: Recording | None = None,
        release: list[Claimed] | None = None,
    ) -> asyncio.Future:
        """In a thread, one storage call after another (never two writers at once): record
        the last batch's outcomes, hand back a batch not sent, then claim the next batch."""
        now = max(now, self._clock()) if self._clock is not None else now

        def work() -> Batch:
            self._record(record or ([], now))
            self._release(release or [])
            return Batch(now, []) if self._stopping else self._claim(now, through_local_date)

        return asyncio.ensure_future(asyncio.to_thread(work))

    def _claim(self, now: datetime, through_local_date: date | None) -> Batch:
        """A batch claimed at `now`, with its municipalities' local information and marks."""
        options = self._options
        claimed = self._store.claim(
            now=now, through_local_date=through_local_date, limit=options.batch_size,
            worker=options.worker, until=now + timedelta(seconds=options.claim_seconds),
            by_content=options.multicast,
        )  # fmt: skip
        codes = {c.municipality_code for c in claimed if c.municipality_code}
        if not codes:
            return Batch(now, claimed)
        return Batch(now, claimed, self._store.local_info(codes), self._store.senders(codes))

    def _too_old(self, batch: Batch) -> bool:
        """True when half of the batch's claim has passed: sent now, it could outlive it."""
        if self._clock is None:
            return False
        return self._clock() - batch.now > timedelta(seconds=self._options.claim_seconds / 2)

    def _record(self, recording: Recording) -> None:
        outcomes, at = recording
        if outcomes:
            self._store.record(outcomes, worker=self._options.worker, now=at)

    def _release(self, claimed: list[Claimed]) -> None:
        if claimed:
            ids = [c.delivery_id for c in claimed]
            self._store.release(ids, worker=self._options.worker)

    async def _send_batch(self, batch: list[Claimed], now: datetime) -> list[Outcome]:
        """Render the batch, group what goes in one request, store new groups' keys, then
        send each channel's requests in order, `concurrency` at a time."""
        outcomes: list[Outcome] = []
        ready: dict[ChannelName, list[Claimed]] = {}
        rendered: dict[int, Rendered] = {}
        for claimed in batch:
            found = self._prepare(claimed, now)
            if isinstance(found, Outcome):
                outcomes.append(found)
            else:
                rendered[claimed.delivery_id] = found
                ready.setdefault(ChannelName(claimed.channel), []).append(claimed)
        groups = {name: self._groups(name, members, rendered) for name, members in ready.items()}
        new = [(g.key, g.multicast, [m.delivery_id for m in g.members])
               for of_channel in groups.values() for g in of_channel if g.new]  # fmt: skip
        if new:  # stored before the first attempt: a retry sends the same group, same key
            await asyncio.to_thread(self._store.set_push_keys, new)

        async def sender(todo: Iterator[Group]) -> None:
            for group in todo:  # one shared iterator per channel: each request taken once
                outcomes.extend(await self._send_group(group, rendered, now))

        senders = []
        for name, of_channel in groups.items():
            todo = iter(of_channel)
            senders += [sender(todo) for _ in range(self._in_flight(name, len(of_channel)))]
        await asyncio.gather(*senders)
        return outcomes

    def _in_flight(self, name: ChannelName, requests: int) -> int:
        """`concurrency` senders per channel, fewer if the channel carries fewer at once."""
        in_flight = getattr(self._channels.get(name), "max_in_flight", self._options.concurrency)
        return min(self._options.concurrency, in_flight, requests)

    def _groups(
        self, name: ChannelName, members: list[Claimed], rendered: dict[int, Rendered]
    ) -> list[Group]:
        channel = self._channels.get(name)
        per_push = getattr(channel, "max_messages", 1)
        per_multicast = getattr(channel, "max_recipients", 1) if self._options.multicast else 0
        texts = {m.delivery_id: rendered[m.delivery_id].text for m in members}
        return form_groups(
            members, texts, per_push=per_push, per_multicast=per_multicast, new_key=new_key
        )

    async def _quota_budget(
        self, now: datetime, through_local_date: date | None, summary: DispatchSummary
    ) -> dict[str, int]:
        """How many sends each channel with a quota has left; warns before a run exceeds it."""
        budget: dict[str, int] = {}
        for name in ChannelName:
            channel = self._channels.get(name)
            remaining = getattr(channel, "remaining_quota", None)
            if remaining is None:
                continue
            try:
                left = await remaining()
            except Exception as error:  # the sends themselves will meet any real outage
                summary.notes.append(f"{name}: quota unknown ({type(error).__name__})")
                continue
            if left is None:
                continue
            budget[name] = left
            due = await asyncio.to_thread(
                self._store.count_due, now=now, through_local_date=through_local_date, channel=name
            )
            if due > left:
                summary.notes.append(
                    f"{name}: {due} deliveries due but the monthly quota allows {left}; "
                    f"{due - left} stay planned"
                )
        return budget

    def _over_quota(self, group: Group, now: datetime) -> list[Outcome] | None:
        """Within the quota, take the request's cost from it; beyond it, keep it planned.
        LINE counts a push as one message whatever it carries, a multicast per recipient."""
        channel = group.members[0].channel
        if channel not in self._budget:
            return None
        cost = len(group.addresses) if group.multicast else 1
        if self._budget[channel] >= cost:
            self._budget[channel] -= cost
            return None
        return [
            Outcome(
                delivery_id=m.delivery_id,
                subscriber_id=m.subscriber_id,
                status=DeliveryStatus.PLANNED,
                attempts=m.attempts,
                channel=m.channel,
                next_attempt_at=now + QUOTA_WAIT,
                error="monthly quota reached",
            )  # fmt: skip
            for m in group.members
        ]

    def _prepare(self, claimed: Claimed, now: datetime) -> Rendered | Outcome:
        """The delivery rendered, or what to record instead: skipped, or failed to render."""
        skip = self._skip_reason(claimed)
        if skip is not None:
            return Outcome(
                delivery_id=claimed.delivery_id, subscriber_id=claimed.subscriber_id,
                status=DeliveryStatus.SKIPPED, attempts=claimed.attempts, skip_reason=skip,
                channel=claimed.channel,
            )  # fmt: skip
        message = self._message(claimed)
        try:
            rendered = self._render(message, self._context(claimed))
        except TemplateError as error:  # validation should have caught it; never crash a run
            result = SendResult(SendStatus.FAILED, f"render failed: {error}")
            return decide(claimed, result, now=now, options=self._options, rng=self._rng)
        if message.municipality is not None:
            rendered = from_municipality(rendered, self._senders.get(message.municipality, ""))
        return rendered

    async def _send_group(
        self, group: Group, rendered: dict[int, Rendered], now: datetime
    ) -> list[Outcome]:
        deferred = self._over_quota(group, now)
        if deferred is not None:
            return deferred
        first = group.members[0]
        channel = self._channels.get(ChannelName(first.channel))
        if channel is None:
            result = SendResult(SendStatus.RETRY, f"no {first.channel} channel configured")
        else:
            result = await channel.send(self._envelope(group, rendered, now))
        if group.multicast and result.status is SendStatus.GONE:
            # A multicast's refusal names no recipient: nobody is marked gone for it.
            result = SendResult(SendStatus.FAILED, result.detail)
        outcomes = [decide(m, result, now=now, options=self._options, rng=self._rng)
                    for m in group.members]  # fmt: skip
        if len(outcomes) == 1:
            return outcomes
        # One request, one fate: a retry of the group is due for all its deliveries at once.
        again = outcomes[0].next_attempt_at
        return [replace(o, next_attempt_at=again) for o in outcomes]

    def _message(self, claimed: Claimed) -> Message:
        return self._catalog.variants_of(claimed.message_id)[claimed.variant]

    def _skip_reason(self, claimed: Claimed) -> str | None:
        """Why a claimed delivery must not go out after all (things changed since planning)."""
        if claimed.subscriber_status != SubscriberStatus.ACTIVE:
            return f"subscriber {claimed.subscriber_status}"
        try:
            message = self._message(claimed)
        except KeyError:
            return "message no longer in the catalog"
        if not (self._options.allow_unreviewed or message.reviewed):
            return "message needs review"
        if message.municipality is not None and not (
            claimed.receives_local_info and claimed.municipality_code == message.municipality
        ):
            return "not a resident of the municipality, or not allowed its local information"
        return None

    def _context(self, claimed: Claimed) -> RenderContext:
        return RenderContext(
            stage_label=claimed.stage_label,
            channel=ChannelName(claimed.channel),
            nickname=claimed.nickname,
            # Local details can reveal where a child lives: only for followers allowed them.
            municipality_name=claimed.municipality_name if claimed.receives_local_info else "",
            local=self._local_for(claimed),
        )

    def _envelope(self, group: Group, rendered: dict[int, Rendered], now: datetime) -> Envelope:
        first = group.members[0]
        own = rendered[first.delivery_id]
        # A multicast carries one recipient's texts to all; a push, each delivery's text.
        texts = [rendered[m.delivery_id].text for m in group.members
                 if not group.multicast or m.address == first.address]  # fmt: skip
        return Envelope(
            delivery_id=first.delivery_id,
            subscriber_id=first.subscriber_id,
            locale=first.locale,
            idempotency_key=group.key,
            channel=ChannelName(first.channel),
            address=first.address,
            title=own.title,
            text=texts[0],
            html=own.html,
            created_at=now,
            more_texts=tuple(texts[1:]),
            multicast=group.multicast,
            more_addresses=group.addresses[1:] if group.multicast else (),
        )

    def _local_for(self, claimed: Claimed) -> dict[str, str]:
        if claimed.receives_local_info and claimed.municipality_code in self._local:
            return self._local[claimed.municipality_code]
        return local_info()  # every key "", so templates fall back to general wording

    def _render(self, message: Message, context: RenderContext) -> Rendered:
        """Render, or reuse the rendering of the same message with the same variables: a
        template sees nothing else (sandboxed, no clock), and rendering costs more than a push."""
        key = (message.id, message.variant, *map(_hashable, map(context.__getattribute__, CONTEXT)))
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._renderer.render(message, context)
            if len(self._rendered) >= RENDERED_KEPT:
                del self._rendered[next(iter(self._rendered))]  # the oldest
            self._rendered[key] = rendered
        return rendered


CONTEXT = tuple(f.name for f in fields(RenderContext))  # everything a template can see


def _hashable(value: object) -> object:
    return tuple(value.items()) if isinstance(value, dict) else value
