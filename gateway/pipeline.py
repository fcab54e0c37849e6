"""The gateway pipeline: batches in → EPC decode → presence events + read summaries → outbox.

One pipeline thread owns the cleaner, the summary accumulators and every outbox `put`; inputs
reach it through a bounded queue, so back-pressure propagates: when the outbox blocks, the
queue fills, serial drivers block in `deliver` and the MQTT client stops reading (its acks stop).

An input's acknowledgement (`Work.ack`, an MQTT PUBACK) runs only once every record derived
from it is durable: its events at the next flush, its reads once the summary cycle holding them
was flushed. Acks are released in arrival order.

Summary cycles close on *event time* (the newest read time seen), not on the wall clock: after a
crash the broker redelivers inputs that were stored but not yet acknowledged; in event time they
fall into the same cycle keys as before and the database's idempotency keys drop them, where a
wall clock would have carried them, as "late", into a new cycle and stored them twice. When no
input arrives for `idle_s`, the clock advances with the wall clock so the last cycle still closes.

At shutdown (`stop(drain=True)`), redeliverable inputs (MQTT) of cycles still open are left
unacknowledged (the broker sends them again to the next run) while final inputs (serial ports,
which cannot resend) are flushed whole.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.metrics import GatewayMetrics
from gateway.outbox import PutResult, PutStatus
from gateway.presence import Cleaner, TagEvent
from gateway.record_builder import NS, RecordBuilder
from gateway.records import ReadSummaryRow, Record
from gateway.summaries import Summaries, SummaryAccumulator
from readers.batch import ReadBatch
from readers.driver import InputError

log = logging.getLogger(__name__)


class RecordOutbox(Protocol):
    """What the pipeline needs of `gateway.outbox.Outbox`."""

    def put(self, records: Sequence[Record], timeout: float | None = None) -> PutResult: ...


class QuarantineStore(Protocol):
    """Durable record of quarantined input (returns once it is on disk)."""

    def record(self, reader: str, errors: Sequence[InputError], payload: bytes | None) -> None: ...


@dataclass(frozen=True)
class Work:
    """One input: what a driver made of one MQTT message or one serial read."""

    reader: str
    batches: Sequence[ReadBatch] = ()
    errors: Sequence[InputError] = ()
    duplicates: int = 0
    gaps: int = 0
    ack: Callable[[], None] | None = None
    redeliverable: bool = False  # MQTT: the broker resends it if never acknowledged
    payload: bytes | None = None  # kept for the quarantine record when errors occur


@dataclass
class PipelineCounters:
    inputs: int = 0
    reads: int = 0
    summary_rows: int = 0
    events: int = 0
    states: int = 0
    put_calls: int = 0
    records_dropped: int = 0
    reads_dropped: int = 0
    acks: int = 0
    bad_epc: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)


@dataclass
class _PendingAck:
    cycle: int  # acknowledge once every cycle up to this one was flushed
    ack: Callable[[], None]
    redeliverable: bool


class Pipeline:
    """The single pipeline thread and its bounded input queue."""

    def __init__(
        self,
        store_id: str,
        outbox: RecordOutbox,
        cleaner: Cleaner | None,
        metrics: GatewayMetrics,
        *,
        cycle_s: float = 1.0,
        flush_interval_s: float = 0.2,
        lateness_s: float = 0.5,
        idle_s: float | None = None,
        queue_size: int = 256,
        state_refresh_s: float = 10.0,
        quarantine: QuarantineStore | None = None,
        picked: Iterable[bytes] = (),
        clock: Callable[[], int] = time.time_ns,
        put_timeout_s: float = 1.0,
        ingester: str = "",
    ) -> None:
        self.store_id = store_id
        self.outbox = outbox
        self.cleaner = cleaner
        self.metrics = metrics
        self.cycle_s = cycle_s
        self.cycle_ns = round(cycle_s * NS)
        self.lateness_ns = round(lateness_s * NS)
        self.flush_interval_s = flush_interval_s
        self.idle_ns = round((idle_s if idle_s is not None else cycle_s + lateness_s + 1.0) * NS)
        self.quarantine = quarantine
        self.clock = clock
        self.put_timeout_s = put_timeout_s
        # Two accumulators: inputs the broker would resend, and inputs that cannot be resent.
        self._acc = {
            True: SummaryAccumulator(cycle_s, lateness_s),
            False: SummaryAccumulator(cycle_s, lateness_s),
        }
        self._flushed_below: dict[bool, int | None] = {True: None, False: None}
        self._acks: deque[_PendingAck] = deque()
        self._events: list[TagEvent] = []
        self.builder = RecordBuilder(store_id, clock, ingester=ingester,
                                     state_refresh_s=state_refresh_s, picked=picked)
        self._watermark: int | None = None
        self._last_data_wall = clock()
        self._last_flush = time.monotonic()
        self.counters = PipelineCounters()
        self._queue: queue.Queue[Work | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self.error: BaseException | None = None

    # -- feeding ------------------------------------------------------------------------------
    def submit(self, work: Work, timeout: float | None = None) -> bool:
        """Queue an input; blocks while the queue is full (back-pressure). False on timeout."""
        try:
            self._queue.put(work, timeout=timeout)
        except queue.Full:
            return False
        self.metrics.pipeline_queue.labels(self.store_id).set(self._queue.qsize())
        return True

    def deliver_for(self, reader: str) -> Callable[[ReadBatch], None]:
        """A serial driver's `deliver`: blocks under back-pressure, never drops."""

        def deliver(batch: ReadBatch) -> None:
            while not self.submit(Work(reader=reader, batches=(batch,)), timeout=1.0):
                if self._abort.is_set():
                    raise RuntimeError("pipeline stopped")

        return deliver

    # -- thread -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the thread; with `drain`, process what is queued and flush it to the outbox."""
        if not drain:
            self._abort.set()
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("pipeline did not stop within %.1fs", timeout)
                self._abort.set()

    def _run(self) -> None:
        try:
            while not self._abort.is_set():
                wait = max(0.0, self.flush_interval_s - (time.monotonic() - self._last_flush))
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    item = None
                if item is not None:
                    self.process(item)
                    if time.monotonic() - self._last_flush < self.flush_interval_s:
                        continue
                elif self._stopping.is_set() and self._queue.empty():
                    self.flush(shutdown=True)
                    return
                self.flush()
        except BaseException as exc:  # the supervisor sees it and exits non-zero
            self.error = exc
            log.exception("pipeline thread failed")
            raise

    # -- the work ---------------------------------------------------------------------------
    def process(self, work: Work) -> None:
        """Apply one input (called by the pipeline thread, or directly by tests)."""
        c = self.counters
        c.inputs += 1
        m = self.metrics
        if work.duplicates:
            m.duplicates.labels(self.store_id, work.reader).inc(work.duplicates)
        if work.gaps:
            m.gaps.labels(self.store_id, work.reader).inc(work.gaps)
        if work.errors:
            if self.quarantine is not None:
                self.quarantine.record(work.reader, work.errors, work.payload)
            for err in work.errors:
                c.quarantined[err.reason.value] += 1
                m.count_quarantined(work.reader, err.reason.value)
        acc = self._acc[work.redeliverable]
        flushed = self._flushed_below[work.redeliverable]
        top = -1
        for batch in work.batches:
            n = len(batch)
            if n == 0 and batch.census_zone is None:
                continue
            if n:
                reads = batch.read_total  # device reads: a report may fold several (read_count)
                c.reads += reads
                m.count_reads(batch.reader, reads)
                bad = self.builder.ids.bad_reads(
                    batch.epc.tolist(), None if batch.read_count is None else batch.read_count.tolist()
                )
                for reason, k in bad.items():
                    c.bad_epc[reason] += k
                    m.bad_epcs.labels(self.store_id, reason).inc(k)
                newest = int(batch.time_ns.max())
                ceiling = self.clock() + NS  # a device clock in the future cannot run ahead
                self._advance_watermark(min(newest, ceiling))
                if self.cycle_ns:
                    top = max(top, newest // self.cycle_ns)
                self._last_data_wall = self.clock()
            if self.cleaner is not None:
                try:
                    self._events.extend(self.cleaner.ingest(batch))
                except InputError as exc:  # e.g. a census of an unknown zone
                    c.quarantined[exc.reason.value] += 1
                    m.count_quarantined(work.reader, exc.reason.value)
            if n:
                acc.add(batch)
        if work.ack is not None:
            cycle = top if flushed is None else max(top, flushed)
            self._acks.append(_PendingAck(cycle, work.ack, work.redeliverable))

    def _advance_watermark(self, t: int) -> None:
        if self._watermark is None or t > self._watermark:
            self._watermark = t

    def event_now(self) -> int | None:
        """The clock that closes summary cycles (see the module doc)."""
        wall = self.clock()
        idle = wall - self._last_data_wall > self.idle_ns
        if self._watermark is None:
            return wall if idle else None
        if idle:
            return max(self._watermark, wall - self.idle_ns)
        return self._watermark

    def flush(self, shutdown: bool = False) -> None:
        """Put complete cycles, events and state changes in the outbox; release acks."""
        self._last_flush = time.monotonic()
        now = self.event_now()
        parts: list[Summaries] = []
        for redeliverable, acc in self._acc.items():
            force = shutdown and not redeliverable
            if now is None and not force:
                continue
            s = acc.flush(now if now is not None else self.clock(), force=force)
            parts.append(s)
            if force or not self.cycle_ns:
                self._flushed_below[redeliverable] = None
                self._release_all(redeliverable)
            elif now is not None:
                limit = (now - self.lateness_ns) // self.cycle_ns
                prev = self._flushed_below[redeliverable]
                self._flushed_below[redeliverable] = limit if prev is None else max(prev, limit)
        if self.cleaner is not None and now is not None:
            self._events.extend(self.cleaner.tick(now))
        records = self._records(parts, force_states=shutdown)
        if records and not self._put(records):
            return  # stopping while the outbox is full: nothing acked
        self._send_acks()
        self.metrics.pipeline_queue.labels(self.store_id).set(self._queue.qsize())

    # -- records ----------------------------------------------------------------------------
    def _records(self, parts: list[Summaries], force_states: bool) -> list[Record]:
        store = self.store_id
        out: list[Record] = []
        for s in parts:
            out.extend(self.builder.summaries(s))
        self.counters.summary_rows += len(out)
        self.metrics.summary_rows.labels(store).inc(len(out))
        events, self._events = self._events, []
        rows, changed = self.builder.events(events)
        out.extend(rows)
        for ev in events:
            self.metrics.events.labels(store, ev.kind.value).inc()
        self.counters.events += len(events)
        if self.cleaner is not None:
            states = self.builder.states(self.cleaner, changed, force_states)
            self.counters.states += len(states)
            out.extend(states)
        return out

    def _put(self, records: list[Record]) -> bool:
        c = self.counters
        while True:
            result = self.outbox.put(records, timeout=self.put_timeout_s)
            c.put_calls += 1
            if result.status is not PutStatus.FULL:
                break
            if self._abort.is_set() or self._stopping.is_set():
                log.warning("outbox full at shutdown: %d record(s) left to the next run", len(records))
                return False
        if result.dropped:
            lost = records[result.stored :]
            reads = sum(r.read_count for r in lost if isinstance(r, ReadSummaryRow))
            c.records_dropped += result.dropped
            c.reads_dropped += reads
            self.metrics.outbox_dropped.labels(self.store_id).inc(result.dropped)
            self.metrics.reads_dropped.labels(self.store_id).inc(reads)
        return True

    # -- acknowledgements ---------------------------------------------------------------------
    def _release_all(self, redeliverable: bool) -> None:
        for p in self._acks:
            if p.redeliverable == redeliverable:
                p.cycle = -1

    def _send_acks(self) -> None:
        while self._acks:
            p = self._acks[0]
            below = self._flushed_below[p.redeliverable]
            if p.cycle >= 0 and (below is None or p.cycle >= below):
                break
            self._acks.popleft()
            p.ack()
            self.counters.acks += 1

    @property
    def pending_acks(self) -> int:
        return len(self._acks)

