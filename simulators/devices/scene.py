"""What a simulated reader sees (a Scene) and what goes wrong on its wire (a FaultPlan).

Both are seeded: the same seeds give the same reads and the same faults. `GroundTruth` counts
what a device emitted and what the fault plan destroyed, so a test can demand that a driver
delivers exactly the intact reads.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

# 50 channels of the US 902-928 MHz band, as R2000 frequency indexes 7..56 map them
US_CHANNELS_KHZ = tuple(902_000 + 500 * i for i in range(1, 51))


@dataclass(frozen=True, slots=True)
class TagInRange:
    """One tag within reach of one antenna."""

    epc: bytes
    antenna: int = 1
    read_probability: float = 0.8
    rssi_dbm: float = -60.0
    rssi_sd: float = 3.0


@dataclass(frozen=True, slots=True)
class SimRead:
    epc: bytes
    antenna: int
    rssi_dbm: int
    frequency_khz: int


class Scene:
    """Tags in range per antenna; `cycle(antenna)` draws one inventory round."""

    def __init__(
        self,
        tags: Sequence[TagInRange],
        seed: int = 1,
        channels_khz: Sequence[int] = US_CHANNELS_KHZ,
    ) -> None:
        self.tags = list(tags)
        self.channels_khz = tuple(channels_khz)
        self._rng = random.Random(seed)

    @classmethod
    def random(
        cls, n_tags: int, antennas: Sequence[int] = (1,), seed: int = 1, read_probability: float = 0.8
    ) -> Scene:
        """n_tags SGTIN-96-looking EPCs spread over the antennas."""
        rng = random.Random(seed ^ 0x5EED)
        tags = [
            TagInRange(
                epc=bytes.fromhex("3034") + rng.getrandbits(80).to_bytes(10, "big"),
                antenna=antennas[i % len(antennas)],
                read_probability=read_probability,
                rssi_dbm=rng.uniform(-75.0, -45.0),
            )
            for i in range(n_tags)
        ]
        return cls(tags, seed)

    @property
    def antennas(self) -> list[int]:
        return sorted({t.antenna for t in self.tags}) or [1]

    def cycle(self, antenna: int | None = None) -> list[SimRead]:
        """One round on `antenna` (None: every antenna); each tag read with its probability."""
        rng = self._rng
        out: list[SimRead] = []
        for tag in self.tags:
            if antenna is not None and tag.antenna != antenna:
                continue
            if rng.random() < tag.read_probability:
                rssi = round(rng.gauss(tag.rssi_dbm, tag.rssi_sd))
                out.append(
                    SimRead(tag.epc, tag.antenna, max(-99, min(-20, rssi)), rng.choice(self.channels_khz))
                )
        rng.shuffle(out)
        return out


class Fault(StrEnum):
    NONE = "none"
    BAD_CRC = "bad_crc"
    TRUNCATE = "truncate"


@dataclass(frozen=True)
class FaultPlan:
    """Rates are per emitted frame carrying reads (garbage: per frame of any kind)."""

    garbage_rate: float = 0.0
    garbage_max_bytes: int = 24
    bad_crc_rate: float = 0.0
    truncate_rate: float = 0.0
    port_drop_every: int = 0  # after this many tag frames the port vanishes (0: never)
    max_port_drops: int = 1_000_000
    unplugged_s: float = 0.2
    clock_skew_ms: int = 0  # added to device timestamps (Mercury tag-buffer records)
    seed: int = 7


@dataclass
class GroundTruth:
    """What the device really did. Updated by the device thread; read it after `quiesce()`."""

    frames_emitted: int = 0
    reads_emitted: int = 0
    reads_corrupted: int = 0
    garbage_bursts: int = 0
    garbage_bytes: int = 0
    bad_crc_frames: int = 0
    truncated_frames: int = 0
    port_drops: int = 0
    undrained_at_drop: int = 0  # bytes the host had not read when the port vanished
    intact_epcs: Counter[bytes] = field(default_factory=Counter)
    corrupted_epcs: Counter[bytes] = field(default_factory=Counter)

    @property
    def reads_intact(self) -> int:
        return self.reads_emitted - self.reads_corrupted


class FaultInjector:
    """Draws faults from a FaultPlan with its own seeded RNG and books them in GroundTruth."""

    def __init__(self, plan: FaultPlan, truth: GroundTruth) -> None:
        self.plan = plan
        self.truth = truth
        self.rng = random.Random(plan.seed)
        self._tag_frames = 0

    def garbage(self, avoid: bytes = b"") -> bytes:
        """Random bytes before a frame, at `garbage_rate` (else b"")."""
        plan = self.plan
        if plan.garbage_rate <= 0 or self.rng.random() >= plan.garbage_rate:
            return b""
        n = self.rng.randint(1, plan.garbage_max_bytes)
        junk = bytes(b for b in self.rng.randbytes(n) if b not in avoid) or b"\x00"
        self.truth.garbage_bursts += 1
        self.truth.garbage_bytes += len(junk)
        return junk

    def draw(self) -> Fault:
        """Fault for the next frame carrying reads."""
        r = self.rng.random()
        if r < self.plan.bad_crc_rate:
            return Fault.BAD_CRC
        if r < self.plan.bad_crc_rate + self.plan.truncate_rate:
            return Fault.TRUNCATE
        return Fault.NONE

    def book(self, epcs: Sequence[bytes], fault: Fault) -> None:
        """Record a frame carrying `epcs` as emitted, intact or not."""
        truth = self.truth
        truth.frames_emitted += 1
        truth.reads_emitted += len(epcs)
        if fault is Fault.NONE:
            truth.intact_epcs.update(epcs)
            return
        truth.reads_corrupted += len(epcs)
        truth.corrupted_epcs.update(epcs)
        if fault is Fault.BAD_CRC:
            truth.bad_crc_frames += 1
        else:
            truth.truncated_frames += 1

    def tag_frame_done(self) -> bool:
        """Count a tag frame; True when the port should vanish now."""
        self._tag_frames += 1
        every = self.plan.port_drop_every
        return (
            every > 0
            and self._tag_frames % every == 0
            and self.truth.port_drops < self.plan.max_port_drops
        )

    def corrupt(self, frame: bytes, fault: Fault, first: int = 3) -> bytes:
        """Binary frames: flip one bit after the length byte, or cut the frame short."""
        if fault is Fault.BAD_CRC:
            buf = bytearray(frame)
            i = self.rng.randrange(min(first, len(buf) - 1), len(buf))
            buf[i] ^= 1 << self.rng.randrange(8)
            return bytes(buf)
        if fault is Fault.TRUNCATE:
            return frame[: self.rng.randrange(1, len(frame))]
        return frame
