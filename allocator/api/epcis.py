"""EPCIS 2.0 JSON-LD export of a shop's item events (pure: rows in, document out).

One ObjectEvent (action OBSERVE) per tag_event row; kinds map to CBV 2.0 bare words:

| kind     | bizStep          | disposition                                           |
|----------|------------------|-------------------------------------------------------|
| arrived  | arriving         | by zone: sellable_accessible / sellable_not_accessible |
| moved    | stocking (to a sales zone) or storing                    | by zone          |
| census   | cycle_counting   | by zone                                               |
| missing  | cycle_counting   | unknown                                               |
| sold     | retail_selling   | retail_sold                                           |
| departed | departing        | unknown                                               |
| picked   | picking          | unavailable                                           |

EPCs are pure identity URIs (`urn:epc:id:sgtin:...`) when they decode, their GS1 Digital Link
when the scheme has no URI (sgtin+), else the TDS raw URI `urn:epc:raw:<bits>.x<HEX>`.
Locations are URNs in the shelfsight namespace; project fields are `ss:` terms declared in
`@context`. `eventID` is a stable UUIDv5 URN of (store, epc, seq, time): re-exports are identical.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from readers.epc import EpcError, decode_epc

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SS_PREFIX = "ss"
SS_NAMESPACE = "https://ns.shelfsight.dev/epcis/"
_EVENT_NS = uuid.UUID("6f0c1c52-5b8e-4d0e-9a55-1d2b8f1c7e01")

SALES_ZONES = frozenset({"floor", "sales", "fitting"})

BIZ_STEP = {
    "arrived": "arriving",
    "census": "cycle_counting",
    "missing": "cycle_counting",
    "sold": "retail_selling",
    "departed": "departing",
    "picked": "picking",
}
FIXED_DISPOSITION = {
    "missing": "unknown",
    "sold": "retail_sold",
    "departed": "unknown",
    "picked": "unavailable",
}


@dataclass(frozen=True)
class EventRow:
    store_id: str
    epc: bytes
    seq: int
    time: datetime
    kind: str
    zone: str | None
    from_zone: str | None
    gtin: str | None
    serial: str | None


def epc_uri(epc: bytes) -> str:
    try:
        decoded = decode_epc(epc)
    except EpcError:
        return f"urn:epc:raw:{len(epc) * 8}.x{epc.hex().upper()}"
    if decoded.uri is not None:
        return decoded.uri
    return decoded.digital_link


def location_uri(store_id: str, zone: str | None = None) -> str:
    base = f"urn:shelfsight:loc:{quote(store_id, safe='')}"
    return base if zone is None else f"{base}:{quote(zone, safe='')}"


def _time(value: datetime) -> str:
    t = value.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _disposition(row: EventRow) -> str:
    fixed = FIXED_DISPOSITION.get(row.kind)
    if fixed is not None:
        return fixed
    return "sellable_accessible" if row.zone in SALES_ZONES else "sellable_not_accessible"


def _biz_step(row: EventRow) -> str:
    if row.kind == "moved":
        return "stocking" if row.zone in SALES_ZONES else "storing"
    return BIZ_STEP.get(row.kind, "inspecting")


def object_event(row: EventRow) -> dict[str, Any]:
    event_id = uuid.uuid5(_EVENT_NS, f"{row.store_id}|{row.epc.hex()}|{row.seq}|{row.time.isoformat()}")
    out: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": event_id.urn,
        "eventTime": _time(row.time),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc_uri(row.epc)],
        "action": "OBSERVE",
        "bizStep": _biz_step(row),
        "disposition": _disposition(row),
        "readPoint": {"id": location_uri(row.store_id, row.zone)},
        "bizLocation": {"id": location_uri(row.store_id)},
        f"{SS_PREFIX}:storeId": row.store_id,
        f"{SS_PREFIX}:eventKind": row.kind,
        f"{SS_PREFIX}:seq": row.seq,
    }
    if row.zone is not None:
        out[f"{SS_PREFIX}:zone"] = row.zone
    if row.from_zone is not None:
        out[f"{SS_PREFIX}:fromZone"] = row.from_zone
    if row.gtin is not None:
        out[f"{SS_PREFIX}:gtin"] = row.gtin
    return out


def document(rows: Iterable[EventRow], created: datetime | None = None) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT, {SS_PREFIX: SS_NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(created or datetime.now(UTC)),
        "epcisBody": {"eventList": [object_event(r) for r in rows]},
    }
