"""Zebra FX IoT Connector JSON (and RFD40/90 `dataEVT`): payload bytes <-> reads, heartbeats.

Tag data event: `{"data": {...}, "timestamp": "...", "type": "<mode>"}`, one object per MQTT
message, or a JSON array of them when batching is on. Management events (`heartbeat`, `gpi`,
`errors`, `warnings`, ...) carry `component` and their own `eventNum` at the top level.

Parsing is typed (msgspec Structs) on the hot path; a payload of plain tag data events is
turned into columns one column at a time (`_tag_columns`), anything else (management events,
RFD sleds, a value out of range) goes event by event (`_append`), which also decides every
error. A payload whose typed decode fails is decoded again element by element so that one bad
event costs one counted InputError, not the message. Reader identity never comes from here:
the caller passes it (from config / topic).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from readers.batch import MAX_READ_COUNT, NO_SEQ, Read, ReadBatch
from readers.driver import InputError, InputErrorReason, ReaderHealth
from readers.formats._json import Columns, decode_one_by_one, format_iso, parse_iso_many, parse_iso_ns

__all__ = [
    "ZebraManagementEvent",
    "ZebraPayload",
    "apply_management",
    "encode_zebra_event_chunks",
    "encode_zebra_events",
    "encode_zebra_heartbeat",
    "parse_zebra",
]

MANAGEMENT_TYPES = frozenset({"heartbeat", "gpi", "errors", "warnings", "firmwareUpdateProgress"})


class _RfdTag(msgspec.Struct, gc=False):
    EPCid: str | None = None
    EPC: str | None = None
    eventNum: int | None = None
    peakRssi: float | None = None
    channel: float | None = None
    phase: float | None = None
    seenCount: int | None = None


class _Data(msgspec.Struct, gc=False):
    idHex: str | None = None
    eventNum: int | None = None
    antenna: int | None = None
    peakRssi: float | None = None
    channel: float | None = None
    phase: float | None = None
    reads: int | None = None
    format: str | None = None
    tagData: list[_RfdTag] | None = None


class _Event(msgspec.Struct, gc=False):
    data: _Data | None = None
    timestamp: str | None = None
    type: str | None = None
    eventNum: int | None = None
    component: str | None = None


_typed = msgspec.json.Decoder(_Event | list[_Event])
_one = msgspec.json.Decoder(_Event)
_any = msgspec.json.Decoder()


@dataclass(frozen=True)
class ZebraManagementEvent:
    """A management event (heartbeat, gpi, errors, warnings, ...), data kept as decoded JSON."""

    type: str
    time_ns: int
    event_num: int | None
    data: Any


@dataclass
class ZebraPayload:
    """What one MQTT payload held. `batch` is not deduplicated (the driver does that)."""

    batch: ReadBatch
    management: list[ZebraManagementEvent] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def parse_zebra(payload: bytes, reader: str, received_ns: int) -> ZebraPayload:
    """Decode one Zebra payload (object or array). Never raises: problems are counted errors.

    Event time is the device `timestamp` (replays keep their old one); without a timestamp,
    `received_ns`. `antenna` 0 and `rssi_dbm` NaN mean "not reported" (SIMPLE mode, sleds).
    """
    errors: list[InputError] = []
    mgmt: list[ZebraManagementEvent] = []
    events: Sequence[_Event]
    try:
        decoded = _typed.decode(payload)
    except msgspec.ValidationError:
        events = decode_one_by_one(payload, _one, errors)
    except msgspec.DecodeError as exc:
        errors.append(InputError(InputErrorReason.MALFORMED_JSON, str(exc)[:200]))
        events = ()
    else:
        events = decoded if isinstance(decoded, list) else [decoded]
        batch = _tag_columns(events, reader, received_ns) if events else None
        if batch is not None:
            return ZebraPayload(batch)
    return _parse_events(events, payload, reader, received_ns, mgmt, errors)


def _parse_events(
    events: Sequence[_Event],
    payload: bytes,
    reader: str,
    received_ns: int,
    mgmt: list[ZebraManagementEvent],
    errors: list[InputError],
) -> ZebraPayload:
    """Event by event: the reference path, and the one that names every error."""
    cols = Columns()
    for ev in events:
        try:
            d = ev.data
            if d is not None and d.idHex is not None and (d.format is None or d.format == "epc"):
                ts = ev.timestamp  # the hot path: one tag data event
                _append(
                    cols, received_ns if ts is None else parse_iso_ns(ts), d.idHex, d.antenna,
                    d.peakRssi, d.eventNum, d.phase, d.channel, d.reads,
                )
            else:
                _take_event(ev, payload, received_ns, cols, mgmt)
        except InputError as exc:
            errors.append(exc)
    return ZebraPayload(cols.batch(reader), mgmt, errors)


def _tag_columns(events: Sequence[_Event], reader: str, received_ns: int) -> ReadBatch | None:
    """The columns of a payload of plain tag data events (`idHex`, format epc), or None when an
    event is of another kind or a value fails a check (`_parse_events` then decides).

    Same values and checks as `_append`, column by column: timestamps parsed once per distinct
    text, EPC hex in one pass, ranges checked on arrays.
    """
    datas = [ev.data for ev in events]
    if None in datas:
        return None
    ds: list[_Data] = datas  # type: ignore[assignment]
    ids = [d.idHex for d in ds]
    if None in ids or not {d.format for d in ds} <= _EPC_FORMATS:
        return None
    hexes: list[str] = ids  # type: ignore[assignment]
    try:
        epcs = list(map(bytes.fromhex, hexes))
        time_ns = parse_iso_many([ev.timestamp for ev in events], received_ns)
    except (ValueError, InputError):
        return None
    # fromhex skips whitespace: equal totals mean every EPC has exactly half its text's length
    if 2 * len(b"".join(epcs)) != len("".join(hexes)) or not all(epcs):
        return None
    n = len(ds)
    antenna = _ints([d.antenna for d in ds], 0, 32767)
    seq = _ints([d.eventNum for d in ds], NO_SEQ, (1 << 63) - 1)
    rssi = _floats([d.peakRssi for d in ds])
    phase = _floats([d.phase for d in ds])
    channel = _floats([d.channel for d in ds])
    reads_ok, reads = _counts([d.reads for d in ds])
    if (
        antenna is None
        or seq is None
        or not reads_ok
        or not _all_nan_or(rssi, (rssi >= -200.0) & (rssi <= 100.0))
        or not _all_nan_or(phase, (phase >= -1e6) & (phase <= 1e6))
        or not _all_nan_or(channel, (channel > 0.0) & (channel < 2_000_000.0))
    ):
        return None
    has_freq = not bool(np.isnan(channel).all())
    has_phase = not bool(np.isnan(phase).all())
    epc_col = np.empty(n, dtype=object)
    epc_col[:] = epcs
    return ReadBatch(
        reader=reader,
        time_ns=time_ns,
        antenna=antenna.astype(np.int16),
        epc=epc_col,
        rssi_dbm=rssi.astype(np.float32),
        seq=seq,
        phase=phase.astype(np.float32) if has_phase else None,
        frequency_khz=np.where(np.isnan(channel), -1, np.rint(channel * 1000)).astype(np.int32)
        if has_freq
        else None,
        read_count=reads,
    )


_EPC_FORMATS = frozenset({None, "epc"})


def _ints(values: list[int | None], missing: int, high: int) -> npt.NDArray[np.int64] | None:
    """int64 column, `missing` for None; None when a present value is outside [0, high]."""
    present: npt.NDArray[np.bool_] | None = None
    try:
        col = np.array(values, dtype=np.int64)  # TypeError when some value is None
    except TypeError:
        present = np.array([v is not None for v in values], dtype=np.bool_)
        try:
            col = np.array([0 if v is None else v for v in values], dtype=np.int64)
        except OverflowError:
            return None
    except OverflowError:
        return None
    if not bool(((col >= 0) & (col <= high)).all()):
        return None
    if present is not None:
        col[~present] = missing
    return col


def _counts(values: list[int | None]) -> tuple[bool, npt.NDArray[np.int32] | None]:
    """(ok, the read_count column): the column is None when no event reports `reads` or all
    report 1; ok is False when a value is outside [1, MAX_READ_COUNT] (the event-by-event path
    then names the error)."""
    n = len(values)
    if values.count(None) == n or values.count(1) == n:  # the usual case: no column
        return True, None
    try:
        col = np.array([1 if v is None else v for v in values], dtype=np.int64)
    except OverflowError:
        return False, None
    if not bool(((col >= 1) & (col <= MAX_READ_COUNT)).all()):
        return False, None
    if bool((col == 1).all()):
        return True, None
    return True, col.astype(np.int32)


def _floats(values: list[float | None]) -> npt.NDArray[np.float64]:
    """float64 column, NaN for None (numpy's conversion; JSON numbers are never NaN, so NaN
    means absent)."""
    if values[0] is None and values.count(None) == len(values):  # field not reported
        return np.full(len(values), np.nan)
    return np.array(values, dtype=np.float64)


def _all_nan_or(col: npt.NDArray[np.float64], ok: npt.NDArray[np.bool_]) -> bool:
    """Every value absent (NaN) or passing `ok` (infinities fail any finite range)."""
    return bool((ok | np.isnan(col)).all())


def _take_event(
    ev: _Event, payload: bytes, received_ns: int, cols: Columns, mgmt: list[ZebraManagementEvent]
) -> None:
    d = ev.data
    ts = ev.timestamp
    t = received_ns if ts is None else parse_iso_ns(ts)
    if d is not None and d.idHex is not None:
        fmt = d.format
        if fmt is not None and fmt != "epc":
            raise InputError(InputErrorReason.BAD_FIELD, f"idHex format {fmt[:20]!r}")
        _append(cols, t, d.idHex, d.antenna, d.peakRssi, d.eventNum, d.phase, d.channel, d.reads)
        return
    if d is not None and d.tagData is not None:  # RFD40/90 dataEVT: always an array of tags
        for tag in d.tagData:
            epc = tag.EPCid if tag.EPCid is not None else tag.EPC
            if epc is None:
                raise InputError(InputErrorReason.BAD_FIELD, "tagData entry without EPCid/EPC")
            _append(
                cols, t, epc, None, tag.peakRssi, tag.eventNum, tag.phase, tag.channel,
                tag.seenCount,
            )
        return
    kind = ev.type or ""
    if kind in MANAGEMENT_TYPES or ev.component is not None:
        mgmt.append(ZebraManagementEvent(kind, t, ev.eventNum, _management_data(payload, ev)))
        return
    if d is None:
        raise InputError(InputErrorReason.UNKNOWN_MESSAGE, f"event type {kind[:40]!r} without data")
    raise InputError(InputErrorReason.BAD_FIELD, f"{kind[:40]!r} event without idHex")


def _append(
    cols: Columns,
    t: int,
    id_hex: str,
    antenna: int | None,
    rssi: float | None,
    seq: int | None,
    phase: float | None,
    channel: float | None,
    reads: int | None = None,
) -> None:
    try:
        epc = bytes.fromhex(id_hex)
    except ValueError:
        raise InputError(InputErrorReason.BAD_EPC, f"idHex {id_hex[:40]!r}") from None
    if not epc or 2 * len(epc) != len(id_hex):
        raise InputError(InputErrorReason.BAD_EPC, f"idHex {id_hex[:40]!r}")
    if antenna is not None and not 0 <= antenna <= 32767:
        raise InputError(InputErrorReason.BAD_FIELD, f"antenna {antenna}")
    if seq is not None and not 0 <= seq < 1 << 63:
        raise InputError(InputErrorReason.BAD_FIELD, f"eventNum {seq}")
    if rssi is not None and not -200.0 <= rssi <= 100.0:  # also rejects inf/NaN
        raise InputError(InputErrorReason.BAD_FIELD, f"peakRssi {rssi}")
    if phase is not None and not -1e6 <= phase <= 1e6:
        raise InputError(InputErrorReason.BAD_FIELD, f"phase {phase}")
    if reads is None:
        reads = 1
    elif not 1 <= reads <= MAX_READ_COUNT:  # a report stands for at least one read
        raise InputError(InputErrorReason.BAD_FIELD, f"reads {reads}")
    freq = -1
    if channel is not None:
        if not 0 < channel < 2_000_000:
            raise InputError(InputErrorReason.BAD_FIELD, f"channel {channel}")
        freq = round(channel * 1000)
        cols.has_freq = True
    if phase is not None:
        cols.has_phase = True
    cols.time_ns.append(t)
    cols.antenna.append(0 if antenna is None else antenna)
    cols.epc.append(epc)
    cols.rssi.append(math.nan if rssi is None else rssi)
    cols.seq.append(NO_SEQ if seq is None else seq)
    cols.phase.append(math.nan if phase is None else phase)
    cols.freq.append(freq)
    cols.count.append(reads)
    if reads != 1:
        cols.has_count = True


def _management_data(payload: bytes, ev: _Event) -> Any:
    """Management events are rare: decode the whole payload untyped and find this event."""
    try:
        doc = _any.decode(payload)
    except msgspec.DecodeError:
        return None
    items = doc if isinstance(doc, list) else [doc]
    for item in items:
        if (
            isinstance(item, dict)
            and item.get("eventNum") == ev.eventNum
            and item.get("type") == ev.type
        ):
            return item.get("data")
    return None


# -- health ------------------------------------------------------------------------------


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def apply_management(health: ReaderHealth, event: ZebraManagementEvent) -> None:
    """Fold a management event into `health`, leniently (sections may be absent or empty)."""
    data = event.data
    if event.type == "heartbeat":
        health.connected = True
        health.last_heartbeat_ns = event.time_ns
        antennas = _get(data, "radio_control", "antennas")
        if isinstance(antennas, dict):
            for port, state in antennas.items():
                if str(port).isdigit():
                    health.antennas_connected[int(port)] = state == "connected"
        for section, key in (
            ("radio_control", "radioConnection"),
            ("radio_control", "status"),
            ("radio_control", "numErrors"),
            ("radio_control", "uptime"),
            ("reader_gateway", "numErrors"),
            ("system", "systemtime"),
            ("system", "uptime"),
        ):
            value = _get(data, section, key)
            if value is not None and not isinstance(value, dict | list):
                health.extra[f"{section}.{key}"] = str(value)
        stats = _get(data, "reader_gateway", "dataPathStatistics")
        if isinstance(stats, list) and stats and isinstance(stats[0], dict):
            dropped = stats[0].get("numDataMessagesDropped")
            if dropped is not None:
                health.extra["reader_gateway.numDataMessagesDropped"] = str(dropped)
    elif event.type in ("errors", "warnings"):
        message = _get(data, "message")
        text = f"{event.type}: {message}" if isinstance(message, str) else f"{event.type}: {data!r}"
        health.errors = [*health.errors[-49:], text[:300]]
        if isinstance(message, str) and message.startswith("Antenna Disconnected on Port "):
            port = message.rsplit(" ", 1)[-1]
            if port.isdigit():
                health.antennas_connected[int(port)] = False
    elif event.type == "gpi":
        pin, state = _get(data, "pin"), _get(data, "state")
        if pin is not None:
            health.extra[f"gpi.{pin}"] = str(state)


# -- encoders ----------------------------------------------------------------------------


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _event_dict(
    r: Read, mode: str, offset_minutes: int, read_count: bool, digits: int
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if r.antenna > 0:
        data["antenna"] = r.antenna
    if r.frequency_khz is not None and r.frequency_khz >= 0:
        data["channel"] = _number(r.frequency_khz / 1000)
    data["eventNum"] = r.seq
    data["format"] = "epc"
    data["idHex"] = r.epc.hex()
    if not math.isnan(r.rssi_dbm):
        data["peakRssi"] = _number(r.rssi_dbm)
    if r.phase is not None and not math.isnan(r.phase):
        data["phase"] = float(r.phase)
    if read_count:
        data["reads"] = r.read_count
    return {"data": data, "timestamp": format_iso(r.time_ns, digits, offset_minutes), "type": mode}


def encode_zebra_event_chunks(
    reads: Iterable[Read] | ReadBatch,
    *,
    mode: str = "CUSTOM",
    utc_offset_minutes: int = 0,
    read_count: bool = True,
    digits: int = 3,
) -> list[bytes]:
    """One compact JSON object per read, keys sorted as the IoT Connector sends them.

    Every read needs a `seq` (eventNum); `antenna` 0, NaN RSSI, absent phase/frequency are
    left out, as the reader does when that tag metadata is off. `read_count` adds the read's
    `"reads"` (SEEN_COUNT). Timestamps carry `digits` fraction digits (ms on the device) and the local
    offset `±hhmm`.
    """
    items = reads.reads() if isinstance(reads, ReadBatch) else reads
    out = []
    for r in items:
        if r.seq < 0:
            raise ValueError("Zebra events need an eventNum (seq >= 0)")
        out.append(
            msgspec.json.encode(_event_dict(r, mode, utc_offset_minutes, read_count, digits))
        )
    return out


def encode_zebra_events(
    reads: Iterable[Read] | ReadBatch,
    *,
    mode: str = "CUSTOM",
    utc_offset_minutes: int = 0,
    read_count: bool = True,
    array: bool | None = None,
    digits: int = 3,
) -> bytes:
    """One MQTT payload: a single event object, or (batching on, or several reads) an array."""
    chunks = encode_zebra_event_chunks(
        reads, mode=mode, utc_offset_minutes=utc_offset_minutes, read_count=read_count,
        digits=digits,
    )
    if array is None:
        array = len(chunks) != 1
    if not array:
        if len(chunks) != 1:
            raise ValueError("a single-object payload holds exactly one event")
        return chunks[0]
    return b"[" + b",".join(chunks) + b"]"


def encode_zebra_heartbeat(
    time_ns: int,
    event_num: int,
    antennas: dict[int, bool],
    *,
    utc_offset_minutes: int = 0,
    tag_reads: int = 0,
    uptime_s: int = 0,
    full: bool = True,
) -> bytes:
    """A heartbeat management event in the FX9600 layout (`full=False`: only radio_control)."""
    h, rem = divmod(uptime_s, 3600)
    up = f"{h:02d}:{rem // 60:02d}:{rem % 60:02d}"
    radio: dict[str, Any] = {
        "antennas": {str(p): "connected" if ok else "disconnected" for p, ok in sorted(antennas.items())},
        "numTagReads": tag_reads,
        "radioActivity": "active",
        "radioConnection": "connected",
        "status": "running",
        "uptime": up,
    }
    data: dict[str, Any] = {"radio_control": radio if full else {}}
    stamp = format_iso(time_ns, 3, utc_offset_minutes)
    if full:
        data["reader_gateway"] = {
            "dataPathStatistics": [{"numDataMessagesDropped": 0, "numDataMessagesTxed": tag_reads}],
            "numErrors": 0,
            "uptime": f"{h}:{rem // 60:02d}:{rem % 60:02d}",
        }
        data["system"] = {"flash": None, "systemtime": stamp, "uptime": f"{h}:{rem // 60}:{rem % 60}"}
        data["userapps"] = []
    doc = {"component": "RG", "data": data, "eventNum": event_num, "timestamp": stamp,
           "type": "heartbeat"}
    return msgspec.json.encode(doc)
