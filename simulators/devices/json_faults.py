"""Fault plan of the JSON (MQTT / HTTP) reader simulators, with ground-truth counters.

Faults, all seeded:
* `malformed_rate` (per message): the message is cut short -> invalid JSON; its reads are lost
  (a strict prefix of a JSON object or array is never valid JSON);
* `bad_epc_rate` (per event): the EPC text is spoiled (still valid JSON) -> one read lost;
* replay bursts: every `replay_every` messages, the last `replay_burst` intact messages are
  sent again verbatim (same eventNum, old timestamps): the driver must drop them;
* outages: every `outage_every` messages the endpoint is down for `outage_messages` messages;
  the device retains them and sends them late, with their old timestamps (to be delivered);
* `clock_skew_ms`: added to every device timestamp.

`JsonGroundTruth` counts what the device emitted and what the faults destroyed: a subscriber
must deliver exactly `reads_intact` reads with the multiset `intact_epcs`.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["JsonFaultInjector", "JsonFaultPlan", "JsonGroundTruth"]

_SPOIL = {b'"idHex":"': b'"idHex":"zz', b'"epcHex":"': b'"epcHex":"zz', b'"epc":"': b'"epc":"!!'}


@dataclass(frozen=True)
class JsonFaultPlan:
    malformed_rate: float = 0.0
    bad_epc_rate: float = 0.0
    replay_every: int = 0  # 0: no replay bursts
    replay_burst: int = 3
    outage_every: int = 0  # 0: no outages
    outage_messages: int = 0
    clock_skew_ms: int = 0
    seed: int = 11


@dataclass
class JsonGroundTruth:
    """What the device really did (read it after the simulator's `quiesce()`)."""

    messages_emitted: int = 0  # distinct messages (replays not included)
    reads_emitted: int = 0
    reads_corrupted: int = 0
    messages_malformed: int = 0
    events_bad_epc: int = 0
    messages_replayed: int = 0
    reads_replayed: int = 0
    messages_held: int = 0  # sent late after an outage
    reads_held: int = 0
    heartbeats: int = 0
    clock_skew_ns: int = 0
    intact_epcs: Counter[bytes] = field(default_factory=Counter)
    corrupted_epcs: Counter[bytes] = field(default_factory=Counter)

    @property
    def reads_intact(self) -> int:
        return self.reads_emitted - self.reads_corrupted


@dataclass
class _Sent:
    payload: bytes
    reads: int


class JsonFaultInjector:
    """Applies a JsonFaultPlan to a device's messages and books them in a JsonGroundTruth."""

    def __init__(self, plan: JsonFaultPlan | None = None, truth: JsonGroundTruth | None = None) -> None:
        self.plan = plan or JsonFaultPlan()
        self.truth = truth or JsonGroundTruth()
        self.truth.clock_skew_ns = self.plan.clock_skew_ms * 1_000_000
        self.rng = random.Random(self.plan.seed)
        self._recent: deque[_Sent] = deque(maxlen=max(self.plan.replay_burst, 1))
        self._held: list[_Sent] = []
        self._outage_left = 0
        self._count = 0

    @property
    def skew_ns(self) -> int:
        return self.truth.clock_skew_ns

    def spoil_events(self, chunks: Sequence[bytes], epcs: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
        """Spoil the EPC of some events at `bad_epc_rate`; returns (chunks, intact EPCs)."""
        out: list[bytes] = []
        intact: list[bytes] = []
        for chunk, epc in zip(chunks, epcs, strict=True):
            if self.plan.bad_epc_rate > 0 and self.rng.random() < self.plan.bad_epc_rate:
                for field_, bad in _SPOIL.items():
                    if field_ in chunk:
                        chunk = chunk.replace(field_, bad, 1)
                        break
                self.truth.events_bad_epc += 1
                self.truth.reads_corrupted += 1
                self.truth.corrupted_epcs[epc] += 1
            else:
                intact.append(epc)
            out.append(chunk)
        return out, intact

    def message(self, payload: bytes, epcs: Sequence[bytes], intact: Sequence[bytes]) -> list[bytes]:
        """Book one new message (all its `epcs`, of which `intact` survived spoiling) and return
        what goes on the wire now, in order: nothing (outage), late messages, replays."""
        plan, truth = self.plan, self.truth
        self._count += 1
        truth.messages_emitted += 1
        truth.reads_emitted += len(epcs)
        if plan.malformed_rate > 0 and self.rng.random() < plan.malformed_rate and len(payload) > 1:
            payload = payload[: self.rng.randrange(1, len(payload))]
            truth.messages_malformed += 1
            truth.reads_corrupted += len(intact)
            truth.corrupted_epcs.update(intact)
            sent = None
        else:
            truth.intact_epcs.update(intact)
            sent = _Sent(payload, len(epcs))
        if plan.outage_every and self._count % plan.outage_every == 0 and self._outage_left == 0:
            self._outage_left = plan.outage_messages
        if self._outage_left > 0:  # the endpoint is down: the device retains the message
            self._outage_left -= 1
            self._held.append(_Sent(payload, len(epcs)))
            truth.messages_held += 1
            truth.reads_held += len(epcs)
            if sent is not None:
                self._recent.append(sent)
            return []
        wire = [s.payload for s in self._held] + [payload]
        self._held.clear()
        if sent is not None:
            self._recent.append(sent)
        if plan.replay_every and self._count % plan.replay_every == 0:
            for old in list(self._recent):
                wire.append(old.payload)
                truth.messages_replayed += 1
                truth.reads_replayed += old.reads
        return wire

    def flush(self) -> list[bytes]:
        """Messages still held by an outage (the endpoint comes back)."""
        wire = [s.payload for s in self._held]
        self._held.clear()
        self._outage_left = 0
        return wire
