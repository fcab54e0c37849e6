"""Typed settings for each process, read from TOML and overridden by SHELFSIGHT__SECTION__KEY.

Nothing here runs at import: `load_settings` is called once, in the command that needs it.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from allocator.config import BidPriceConfig, CostConfig, ReservationConfig, ServerConfig
from gateway.config import (
    CleaningConfig,
    GatewayConfig,
    MetricsConfig,
    MqttConfig,
    OutboxConfig,
    SinkConfig,
)
from readers.config import ReaderConfig
from shelfsight.fieldpath import dotted
from simulators.config import ChainConfig

SERIAL_DRIVERS = frozenset({"mercury", "r2000", "tsl_ascii"})
MQTT_DRIVERS = frozenset({"zebra_iotc"})  # impinj_iot may use `url` (HTTP stream) instead


class ZoneKind(StrEnum):
    SALES = "sales"
    STORAGE = "storage"
    FITTING = "fitting"
    EXIT = "exit"
    POS = "pos"


class StoreInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Shop id, as in the `stores` table.")
    name: str = Field("", description="Display name.")
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude.")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude.")


class DatabaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dsn: SecretStr | None = Field(
        None, description="libpq DSN; absent: an embedded PostgreSQL (demo only)."
    )
    pool_min: int = Field(1, ge=0, description="Connections kept open.")
    pool_max: int = Field(8, ge=1, description="Connections at most.")


def _default_zones() -> dict[str, ZoneKind]:
    return {
        "floor": ZoneKind.SALES,
        "backroom": ZoneKind.STORAGE,
        "fitting": ZoneKind.FITTING,
        "exit": ZoneKind.EXIT,
        "pos": ZoneKind.POS,
    }


class _Settings(BaseSettings):
    """Base: TOML file (given at load time) < environment (SHELFSIGHT__SECTION__KEY)."""

    model_config = SettingsConfigDict(
        env_prefix="SHELFSIGHT__", env_nested_delimiter="__", extra="forbid"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


class StoreSettings(_Settings):
    """A shop's edge daemon (`gateway run`) and its simulated devices (`simulate store`)."""

    store: StoreInfo
    zones: dict[str, ZoneKind] = Field(
        default_factory=_default_zones, description="Zone name -> kind (sales, storage, fitting, exit, pos)."
    )
    readers: list[ReaderConfig] = Field(default_factory=list, description="The shop's readers.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    sink: SinkConfig = Field(default_factory=SinkConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)

    @model_validator(mode="after")
    def _check_references(self) -> StoreSettings:
        errors: list[str] = []
        seen: set[str] = set()
        for i, reader in enumerate(self.readers):
            if reader.id in seen:
                errors.append(f"readers[{i}].id: duplicate reader id {reader.id!r}")
            seen.add(reader.id)
            if reader.driver in SERIAL_DRIVERS and not reader.port:
                errors.append(f"readers[{i}].port: field required (serial driver {reader.driver})")
            if reader.driver in MQTT_DRIVERS and not reader.topic:
                errors.append(f"readers[{i}].topic: field required (MQTT driver {reader.driver})")
            for antenna, zone in reader.zones.items():
                if zone not in self.zones:
                    errors.append(f"readers[{i}].zones.{antenna}: unknown zone {zone!r}")
        if self.mqtt.shared_group and not self.mqtt.client_id:
            errors.append(
                "mqtt.client_id: required with shared_group (each gateway needs its own stable id)"
            )
        if errors:
            raise ValueError("; ".join(errors))
        return self


class ChainSettings(_Settings):
    """The simulated chain (`simulate chain`, the demo) and its cost model."""

    chain: ChainConfig = Field(default_factory=ChainConfig)
    costs: CostConfig = Field(default_factory=CostConfig)


class ApiSettings(_Settings):
    """The allocation API (`api serve`)."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    costs: CostConfig = Field(default_factory=CostConfig)
    reservations: ReservationConfig = Field(default_factory=ReservationConfig)
    bid_prices: BidPriceConfig = Field(default_factory=BidPriceConfig)


KINDS: dict[str, type[_Settings]] = {
    "store": StoreSettings,
    "chain": ChainSettings,
    "api": ApiSettings,
}

S = TypeVar("S", bound=_Settings)


class ConfigError(Exception):
    """A configuration file that cannot be used; `problems` are 'dotted.path: reason' lines."""

    def __init__(self, path: Path | None, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(problems))


def format_validation_error(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        msg = str(err["msg"])
        if err["type"] == "missing":
            msg = "field required"
        elif msg.startswith("Value error, "):
            # Cross-field errors already carry their own dotted paths.
            problems.extend(p.strip() for p in msg.removeprefix("Value error, ").split(";"))
            continue
        problems.append(f"{dotted(tuple(err['loc'])) or '<root>'}: {msg}")
    return problems


def load_settings(cls: type[S], path: Path | str | None, **overrides: Any) -> S:
    """Read `path` (TOML) into `cls`, environment variables winning; raise ConfigError."""
    file = Path(path) if path is not None else None
    if file is not None:
        try:
            with file.open("rb") as fh:
                tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(file, [f"<file>: cannot read: {exc.strerror}"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(file, [f"<file>: invalid TOML: {exc}"]) from exc
    bound = type(cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": file}})
    try:
        return bound(**overrides)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise ConfigError(file, format_validation_error(exc)) from exc


def sniff_kind(path: Path) -> str | None:
    """Guess which settings a TOML file is for, from its top-level tables."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if "store" in data or "readers" in data:
        return "store"
    if "chain" in data:
        return "chain"
    if "server" in data or "reservations" in data:
        return "api"
    return None
