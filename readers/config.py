"""Configuration of one reader: which driver, where it is, and which zone each antenna watches."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReaderConfig(BaseModel):
    """One physical reader as the shop's IT configures it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1, description="Reader name; reads are attributed to it, never to the payload."
    )
    driver: str = Field(
        description="Driver name: zebra_iotc, impinj_iot, mercury, r2000, tsl_ascii or a plugin."
    )
    port: str | None = Field(None, description="Serial device (serial drivers), e.g. /dev/ttyUSB0.")
    baudrate: int = Field(115200, gt=0, description="Serial baud rate.")
    topic: str | None = Field(
        None, description="MQTT topic the reader publishes tag data to (MQTT drivers)."
    )
    url: str | None = Field(None, description="HTTP stream URL (impinj_iot over HTTP).")
    zones: dict[int, str] = Field(
        default_factory=dict, description="Antenna number -> zone name (a key of [zones])."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Driver-specific options, passed to the driver as is."
    )
