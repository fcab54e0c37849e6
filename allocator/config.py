"""Configuration of the cost model and the API server."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CostConfig(BaseModel):
    """Cost terms of an allocation decision (currency units)."""

    model_config = ConfigDict(extra="forbid")

    parcel_cost_store: float = Field(4.0, ge=0, description="Fixed cost of a parcel shipped from a shop.")
    parcel_cost_warehouse: float = Field(3.0, ge=0, description="Fixed cost of a warehouse parcel.")
    per_item_km_store: float = Field(0.002, ge=0, description="Carriage per item and km from a shop.")
    per_item_km_warehouse: float = Field(
        0.0015, ge=0, description="Carriage per item and km from a warehouse."
    )
    pick_cost_store: float = Field(2.5, ge=0, description="Pick/pack labour per item in a shop.")
    pick_cost_warehouse: float = Field(1.0, ge=0, description="Pick/pack labour per item in a warehouse.")
    failed_pick_cost: float = Field(12.0, ge=0, description="Cost of a failed pick (re-route, delay).")
    overtime_cost: float | None = Field(
        None, ge=0, description="Per-item cost of picks beyond a shop's capacity; none = hard cap."
    )
    new_item_velocity_prior: float = Field(
        0.2, ge=0, description="Prior daily sales per shop for a GTIN without history."
    )
    protection_units: int = Field(0, ge=0, description="Units per shop x GTIN never offered online.")
    alternatives: int = Field(3, ge=0, le=20, description="Runner-up alternatives returned per decision.")


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Listen address.")
    port: int = Field(8000, ge=0, le=65535, description="Listen port.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")


class BidPriceConfig(BaseModel):
    """Bid prices of the expected-demand LP in live decisions (`allocator.bidcache`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Blend bid prices into Δ (solved per GTIN, in the background).")
    ttl_s: float = Field(
        3600.0, gt=0, description="Re-solve a GTIN's bid prices when they are older than this."
    )
    max_age_s: float = Field(
        7200.0, gt=0, description="Never use bid prices older than this (decide on Δ alone)."
    )
    max_gtins: int = Field(20_000, gt=0, description="GTINs whose bid prices each worker keeps.")

    @model_validator(mode="after")
    def _ages(self) -> BidPriceConfig:
        if self.max_age_s < self.ttl_s:
            raise ValueError(
                "bid_prices.max_age_s: must be at least bid_prices.ttl_s (prices are re-solved"
                " at ttl_s)")
        return self


class ReservationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_s: int = Field(1800, gt=0, description="Unconfirmed reservations expire after this long.")
