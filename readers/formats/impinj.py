"""Impinj IoT device interface (R700/R720): ReaderEvent JSON <-> reads and reader status.

A `ReaderEvent` is `{"timestamp": <UTC ns, Z>, "hostname"?, "eventType"?, "<type>Event": {...}}`;
one per MQTT message and per HTTP stream line (NDJSON), a JSON array in webhook bodies. The
event kind comes from `eventType` when present, else from the `<type>Event` key present (the
HTTP stream omits `eventType`). EPC: `epcHex` when present, else base64 `epc` (standard or
URL-safe). `peakRssiCdbm` is centi-dBm, `frequency` kHz. There is no event counter.

MQTT liveness is a plain-text status message (`connectMessage` "connected", `willMessage`
"connection lost", `disconnectMessage`), see `parse_impinj_status`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from readers.batch import NO_SEQ, Read, ReadBatch
from readers.driver import InputError, InputErrorReason, ReaderHealth
from readers.formats._json import (
    Columns,
    decode_one_by_one,
    epc_from_base64,
    epc_from_hex,
    format_iso,
    parse_iso_ns,
)

__all__ = [
    "ImpinjPayload",
    "ImpinjStatusEvent",
    "apply_status",
    "encode_impinj_antenna_event",
    "encode_impinj_event",
    "encode_impinj_events",
    "encode_impinj_ndjson",
    "encode_impinj_overflow",
    "parse_impinj",
    "parse_impinj_status",
]

DEFAULT_CONNECT_MESSAGE = "connected"
DEFAULT_WILL_MESSAGE = "connection lost"
DEFAULT_DISCONNECT_MESSAGE = "disconnected"


class _TagInventory(msgspec.Struct):
    epc: str | None = None
    epcHex: str | None = None
    antennaPort: int | None = None
    peakRssiCdbm: float | None = None
    frequency: int | None = None
    phaseAngle: float | None = None


class _Antenna(msgspec.Struct):
    antennaPort: int | None = None


class _Overflow(msgspec.Struct):
    eventsPurged: int | None = None
    eventsRemaining: int | None = None


class _Event(msgspec.Struct):
    timestamp: str | None = None
    hostname: str | None = None
    eventType: str | None = None
    tagInventoryEvent: _TagInventory | None = None
    antennaConnectedEvent: _Antenna | None = None
    antennaDisconnectedEvent: _Antenna | None = None
    overflowEvent: _Overflow | None = None
    inventoryStatusEvent: dict[str, Any] | None = None
    gpiTransitionEvent: dict[str, Any] | None = None


_typed = msgspec.json.Decoder(_Event | list[_Event])
_one = msgspec.json.Decoder(_Event)

_KINDS = (
    "tagInventory",
    "antennaConnected",
    "antennaDisconnected",
    "overflow",
    "inventoryStatus",
    "gpiTransition",
)


@dataclass(frozen=True)
class ImpinjStatusEvent:
    """A non-tag event that changes what we know of the reader."""

    kind: str  # antennaConnected, antennaDisconnected, inventoryStatus, gpiTransition, overflow
    time_ns: int
    antenna: int | None = None
    detail: str = ""


@dataclass
class ImpinjPayload:
    """What one payload held. `purged`: events the reader dropped (overflowEvent)."""

    batch: ReadBatch
    status: list[ImpinjStatusEvent] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    purged: int = 0
    ignored: int = 0  # well-formed events of kinds we do not use (tagLocation*, ...)


def _kind(ev: _Event) -> str | None:
    if ev.eventType is not None:
        return ev.eventType
    for kind in _KINDS:
        if getattr(ev, kind + "Event") is not None:
            return kind
    return None


def parse_impinj(payload: bytes, reader: str, received_ns: int) -> ImpinjPayload:
    """Decode one Impinj payload (object or array of ReaderEvents). Never raises."""
    cols = Columns()
    out = ImpinjPayload(cols.batch(reader))
    events: Sequence[_Event]
    try:
        decoded = _typed.decode(payload)
        events = decoded if isinstance(decoded, list) else [decoded]
    except msgspec.ValidationError:
        events = decode_one_by_one(payload, _one, out.errors)
    except msgspec.DecodeError as exc:
        out.errors.append(InputError(InputErrorReason.MALFORMED_JSON, str(exc)[:200]))
        events = ()
    for ev in events:
        try:
            _take(ev, received_ns, cols, out)
        except InputError as exc:
            out.errors.append(exc)
    out.batch = cols.batch(reader)
    return out


def _take(ev: _Event, received_ns: int, cols: Columns, out: ImpinjPayload) -> None:
    t = received_ns if ev.timestamp is None else parse_iso_ns(ev.timestamp)
    kind = _kind(ev)
    if kind == "tagInventory":
        tag = ev.tagInventoryEvent
        if tag is None:
            raise InputError(InputErrorReason.BAD_FIELD, "tagInventory without tagInventoryEvent")
        if tag.epcHex is not None:
            epc = epc_from_hex(tag.epcHex)
        elif tag.epc is not None:
            epc = epc_from_base64(tag.epc)
        else:
            raise InputError(InputErrorReason.BAD_FIELD, "tagInventoryEvent without epc/epcHex")
        port = tag.antennaPort
        if port is not None and not 0 <= port <= 32767:
            raise InputError(InputErrorReason.BAD_FIELD, f"antennaPort {port}")
        freq = tag.frequency
        if freq is not None:
            if not 0 <= freq < 1 << 31:
                raise InputError(InputErrorReason.BAD_FIELD, f"frequency {freq}")
            cols.has_freq = True
        rssi = tag.peakRssiCdbm
        if rssi is not None and not -20000.0 <= rssi <= 10000.0:  # also rejects inf/NaN
            raise InputError(InputErrorReason.BAD_FIELD, f"peakRssiCdbm {rssi}")
        if tag.phaseAngle is not None:
            if not -1e6 <= tag.phaseAngle <= 1e6:
                raise InputError(InputErrorReason.BAD_FIELD, f"phaseAngle {tag.phaseAngle}")
            cols.has_phase = True
        cols.time_ns.append(t)
        cols.antenna.append(0 if port is None else port)
        cols.epc.append(epc)
        cols.rssi.append(math.nan if rssi is None else rssi / 100)
        cols.seq.append(NO_SEQ)
        cols.phase.append(math.nan if tag.phaseAngle is None else tag.phaseAngle)
        cols.freq.append(-1 if freq is None else freq)
    elif kind in ("antennaConnected", "antennaDisconnected"):
        ant = ev.antennaConnectedEvent or ev.antennaDisconnectedEvent
        out.status.append(ImpinjStatusEvent(kind, t, None if ant is None else ant.antennaPort))
    elif kind == "overflow":
        purged = 0 if ev.overflowEvent is None else ev.overflowEvent.eventsPurged or 0
        out.purged += max(purged, 0)
        out.status.append(ImpinjStatusEvent(kind, t, detail=f"eventsPurged={purged}"))
    elif kind in ("inventoryStatus", "gpiTransition"):
        body = ev.inventoryStatusEvent if kind == "inventoryStatus" else ev.gpiTransitionEvent
        out.status.append(ImpinjStatusEvent(kind, t, detail=repr(body)[:200]))
    elif kind is None:
        raise InputError(InputErrorReason.UNKNOWN_MESSAGE, "ReaderEvent of no known kind")
    else:
        out.ignored += 1


def parse_impinj_status(
    payload: bytes,
    connect_messages: Iterable[str] = (DEFAULT_CONNECT_MESSAGE,),
    lost_messages: Iterable[str] = (DEFAULT_WILL_MESSAGE, DEFAULT_DISCONNECT_MESSAGE),
) -> bool | None:
    """An MQTT connect / will / disconnect message -> connected True/False; else None."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if text in connect_messages:
        return True
    if text in lost_messages:
        return False
    return None


def apply_status(health: ReaderHealth, event: ImpinjStatusEvent) -> None:
    """Fold a status event into `health`."""
    if event.kind in ("antennaConnected", "antennaDisconnected") and event.antenna is not None:
        health.antennas_connected[event.antenna] = event.kind == "antennaConnected"
    elif event.kind == "overflow":
        health.errors = [*health.errors[-49:], f"overflow: {event.detail}"]
    else:
        health.extra[event.kind] = event.detail


# -- encoders ----------------------------------------------------------------------------


def _tag_dict(r: Read, epc_format: str, transmit_power_cdbm: int | None) -> dict[str, Any]:
    tag: dict[str, Any] = {}
    if epc_format in ("base64", "both"):
        tag["epc"] = base64.b64encode(r.epc).decode("ascii")
    if epc_format in ("hex", "both"):
        tag["epcHex"] = r.epc.hex().upper()
    if r.antenna > 0:
        tag["antennaPort"] = r.antenna
    if not math.isnan(r.rssi_dbm):
        tag["peakRssiCdbm"] = round(r.rssi_dbm * 100)
    if r.frequency_khz is not None and r.frequency_khz >= 0:
        tag["frequency"] = r.frequency_khz
    if transmit_power_cdbm is not None:
        tag["transmitPowerCdbm"] = transmit_power_cdbm
    if r.phase is not None and not math.isnan(r.phase):
        tag["phaseAngle"] = float(r.phase)
    return tag


def _event_dict(
    r: Read, hostname: str | None, event_type: bool, epc_format: str, tx: int | None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"timestamp": format_iso(r.time_ns, 9, zulu=True)}
    if hostname is not None:
        doc["hostname"] = hostname
    if event_type:
        doc["eventType"] = "tagInventory"
    doc["tagInventoryEvent"] = _tag_dict(r, epc_format, tx)
    return doc


def encode_impinj_event(
    read: Read,
    *,
    hostname: str | None = None,
    event_type: bool = True,
    epc_format: str = "base64",
    transmit_power_cdbm: int | None = 3000,
) -> bytes:
    """One `tagInventory` ReaderEvent as the R700 sends it (compact, its key order).

    `epc_format`: "base64" (the default config), "hex" (`epcHex` only) or "both".
    RSSI is written in centi-dBm, the timestamp with 9 fraction digits and `Z`.
    """
    if epc_format not in ("base64", "hex", "both"):
        raise ValueError(f"epc_format {epc_format!r}")
    return msgspec.json.encode(
        _event_dict(read, hostname, event_type, epc_format, transmit_power_cdbm)
    )


def _reads(reads: Iterable[Read] | ReadBatch) -> Iterable[Read]:
    return reads.reads() if isinstance(reads, ReadBatch) else reads


def encode_impinj_events(
    reads: Iterable[Read] | ReadBatch,
    *,
    hostname: str | None = None,
    event_type: bool = True,
    epc_format: str = "base64",
    transmit_power_cdbm: int | None = 3000,
) -> bytes:
    """A webhook body: a JSON array of ReaderEvents (possibly empty)."""
    parts = [
        encode_impinj_event(
            r, hostname=hostname, event_type=event_type, epc_format=epc_format,
            transmit_power_cdbm=transmit_power_cdbm,
        )
        for r in _reads(reads)
    ]
    return b"[" + b",".join(parts) + b"]"


def encode_impinj_ndjson(
    reads: Iterable[Read] | ReadBatch,
    *,
    hostname: str | None = None,
    event_type: bool = False,
    epc_format: str = "hex",
    transmit_power_cdbm: int | None = 3000,
) -> bytes:
    """HTTP stream lines: one ReaderEvent per line, each ending in `\\n` (no `eventType`)."""
    return b"".join(
        encode_impinj_event(
            r, hostname=hostname, event_type=event_type, epc_format=epc_format,
            transmit_power_cdbm=transmit_power_cdbm,
        )
        + b"\n"
        for r in _reads(reads)
    )


def encode_impinj_antenna_event(
    time_ns: int, antenna: int, connected: bool, *, hostname: str | None = None
) -> bytes:
    kind = "antennaConnected" if connected else "antennaDisconnected"
    doc: dict[str, Any] = {"timestamp": format_iso(time_ns, 9, zulu=True)}
    if hostname is not None:
        doc["hostname"] = hostname
    doc["eventType"] = kind
    doc[kind + "Event"] = {"antennaPort": antenna}
    return msgspec.json.encode(doc)


def encode_impinj_overflow(
    time_ns: int, first_ns: int, last_ns: int, purged: int, remaining: int
) -> bytes:
    doc = {
        "timestamp": format_iso(time_ns, 9, zulu=True),
        "eventType": "overflow",
        "overflowEvent": {
            "firstEventTimestamp": format_iso(first_ns, 9, zulu=True),
            "lastEventTimestamp": format_iso(last_ns, 9, zulu=True),
            "eventsPurged": purged,
            "eventsRemaining": remaining,
        },
    }
    return msgspec.json.encode(doc)
