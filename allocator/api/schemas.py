"""Request and response bodies of the API (pydantic: validation and the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from allocator.model import ServiceLevel
from readers.epc.gtin import check_digit


def _gtin14(value: str) -> str:
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        raise ValueError("a GTIN-14 is exactly 14 digits")
    if check_digit(value[:13]) != value[13]:
        raise ValueError(f"wrong check digit: expected {check_digit(value[:13])}")
    return value


Gtin14 = Annotated[
    str,
    Field(min_length=14, max_length=14, pattern=r"^[0-9]{14}$", examples=["09506000134352"]),
    AfterValidator(_gtin14),
]
NodeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
EpcHex = Annotated[
    str, Field(min_length=8, max_length=128, pattern=r"^[0-9A-Fa-f]+$", description="EPC as hex.")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLineIn(_In):
    gtin: Gtin14
    qty: int = Field(ge=1, le=1000)


class OrderIn(_In):
    order_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=100)
    ship_lat: float = Field(ge=-90, le=90)
    ship_lon: float = Field(ge=-180, le=180)
    service_level: ServiceLevel = ServiceLevel.STANDARD
    collect_shop: NodeId | None = Field(None, description="Click-and-collect at this shop.")

    @model_validator(mode="after")
    def _distinct_gtins(self) -> OrderIn:
        seen: set[str] = set()
        for line in self.lines:
            if line.gtin in seen:
                raise ValueError(f"lines: GTIN {line.gtin} appears twice; merge the lines")
            seen.add(line.gtin)
        return self


class PickIn(_In):
    node_id: NodeId = Field(description="The shop where the items were picked.")
    epcs: list[EpcHex] = Field(min_length=1, max_length=500)


class CostOut(BaseModel):
    parcels: float
    carriage: float
    labour: float
    pick_failure: float
    opportunity: float
    overtime: float
    unfilled: float
    total: float


class AssignmentOut(BaseModel):
    line: int
    gtin: str
    node_id: str
    qty: int


class AlternativeOut(BaseModel):
    nodes: list[str]
    assignments: list[AssignmentOut]
    cost: CostOut


class ReservationOut(BaseModel):
    node_id: str
    gtin: str
    qty: int
    picked: int
    status: str
    expires_at: datetime


class AllocationOut(BaseModel):
    allocation_id: str | None = Field(description="None for a dry run (nothing stored).")
    order_id: str
    status: str = Field(description="dry_run, reserved, picking, fulfilled, cancelled, expired")
    policy: str
    solver: str
    parcels: int
    lines: list[AssignmentOut]
    cost: CostOut
    alternatives: list[AlternativeOut]
    reservations: list[ReservationOut]
    created_at: datetime | None
    expires_at: datetime | None


class NodeStockOut(BaseModel):
    node_id: str
    kind: str
    units: int = Field(description="Items present (shop) or on hand (warehouse).")
    reserved: int
    available: int = Field(description="units - reserved - protected, at least 0.")
    confidence: float | None
    newest_seen: datetime | None


class GtinStockOut(BaseModel):
    gtin: str
    nodes: list[NodeStockOut]
    total_available: int


class ZoneStockOut(BaseModel):
    gtin: str
    zone: str | None
    units: int
    newest_seen: datetime
    oldest_seen: datetime
    age_s: float = Field(description="Seconds since the oldest item of the cell was last seen.")
    mean_confidence: float | None


class ShopStockOut(BaseModel):
    shop_id: str
    as_of: datetime
    zones: list[ZoneStockOut]


class SlowMoverOut(BaseModel):
    gtin: str
    units: int
    velocity_per_day: float
    days_of_cover: float | None = Field(description="None when the velocity is 0.")
    markdown_date: str | None
    days_to_markdown: float | None
    excess_units: float = Field(description="Units expected to remain at the markdown date.")
    at_risk: bool


class SlowMoversOut(BaseModel):
    shop_id: str
    as_of: datetime
    items: list[SlowMoverOut]


class PickOut(BaseModel):
    allocation: AllocationOut
    picked: list[dict[str, Any]]


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None
