"""Configuration of the simulated retail chain."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ChainConfig(BaseModel):
    """Shape of a simulated chain for `simulate chain` and the allocation benchmark."""

    model_config = ConfigDict(extra="forbid")

    warehouses: int = Field(1, ge=1, le=3, description="Warehouses (1-3).")
    stores: int = Field(50, ge=1, le=1000, description="Shops.")
    skus: int = Field(200, ge=1, description="Styles x sizes on sale (GTINs).")
    days: int = Field(56, ge=1, description="Simulated days.")
    online_share: float = Field(0.25, ge=0, le=1, description="Share of demand that comes online.")
    rfid_accuracy: float = Field(0.95, gt=0, le=1, description="Inventory record accuracy in shops.")
    pick_capacity: int = Field(40, ge=0, description="Online picks per shop per day.")
