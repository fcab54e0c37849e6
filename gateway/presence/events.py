"""Values that leave the presence cleaner: tag events and tag-state rows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class EventKind(StrEnum):
    """What happened to a tag.

    * ARRIVED: first read of a tag that was unknown, missing, departed or sold
      (`zone` = where it is now).
    * MOVED: a present tag's zone changed and the new zone kept the best age-weighted RSSI
      for the hold-off (`zone` = new, `from_zone` = old).
    * MISSING: a present tag not seen for longer than its window, not through an exit/POS
      zone, or absent from a census of its zone (`zone` = where it was believed to be).
    * DEPARTED: missing for longer than `departed_after_s` (`zone` = last believed zone).
    * SOLD: read in an exit or POS zone while at a till or exit (its best or believed zone is
      an exit/POS zone: a stray exit read of an item on a nearby fixture does not count), within
      `exit_grace_s` of its last read, then not seen for its window (`zone` = that exit/POS zone,
      `from_zone` = the believed zone when it differs; `time_ns` = when it was last seen there).
    * CENSUS: found by a handheld census of `zone` (confidence reset to 1; `from_zone` = the
      previously believed zone when it differs).
    """

    ARRIVED = "arrived"
    MOVED = "moved"
    MISSING = "missing"
    DEPARTED = "departed"
    SOLD = "sold"
    CENSUS = "census"


# An event inside the cleaner before it gets its sequence number and names:
# (time_ns, tag id, kind, zone index, from-zone index), -1 for no zone.
RawEvent = tuple[int, int, EventKind, int, int]


class TagStatus(StrEnum):
    UNKNOWN = "unknown"
    PRESENT = "present"
    MISSING = "missing"
    DEPARTED = "departed"
    SOLD = "sold"


class StatusCode(IntEnum):
    """Compact status codes of the columnar state (same members as TagStatus)."""

    UNKNOWN = 0
    PRESENT = 1
    MISSING = 2
    DEPARTED = 3
    SOLD = 4

    @property
    def status(self) -> TagStatus:
        return TagStatus(self.name.lower())

    @classmethod
    def of(cls, status: TagStatus) -> StatusCode:
        return cls[status.name]


@dataclass(frozen=True, slots=True)
class TagEvent:
    """One presence event. `seq` increases by one per event of a gateway (never reused, also
    across restarts via `Cleaner.restore`), so (store, epc, seq) is a deterministic key."""

    time_ns: int
    epc: bytes
    kind: EventKind
    zone: str | None
    from_zone: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class TagStateRow:
    """One row of `tag_state` (per item).

    read_rate: estimated per-epoch read probability; confidence: freshness-based belief that
    the item is where the row says (1 right after a read or a census; (1 - read_rate)^k after
    k unread epochs; census-only items decay with the census half-life; 0 when not present).
    census_only: seen by a census and by no fixed reader since (exempt from window timeouts).
    """

    epc: bytes
    zone: str | None
    status: TagStatus
    last_seen_ns: int
    read_rate: float
    confidence: float
    census_only: bool = False
