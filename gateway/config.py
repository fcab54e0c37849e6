"""Configuration sections of the edge daemon."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class FullPolicy(StrEnum):
    BACKPRESSURE = "backpressure"
    DROP = "drop"


class CleaningMethod(StrEnum):
    SMURF = "smurf"
    FIXED = "fixed"


class MqttConfig(BaseModel):
    """The broker the MQTT readers publish to."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Broker host.")
    port: int = Field(1883, ge=0, le=65535, description="Broker port (0: the embedded broker picks one).")
    username: str | None = Field(None, description="Broker user name.")
    password: SecretStr | None = Field(None, description="Broker password (prefer the environment).")
    tls: bool = Field(False, description="Connect with TLS.")
    ca_file: Path | None = Field(None, description="CA bundle for TLS.")
    client_id: str | None = Field(None, description="Client id; persistent sessions need a stable one.")
    shared_group: str | None = Field(
        None, description="Subscribe as $share/GROUP/topic so several gateways split one stream."
    )
    keepalive_s: int = Field(30, gt=0, description="MQTT keep-alive in seconds.")
    max_inflight: int = Field(1000, gt=0, description="Unacknowledged messages in flight at most.")


class OutboxConfig(BaseModel):
    """The durable on-disk buffer between the readers and the database."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(Path("outbox.sqlite"), description="SQLite file (WAL mode).")
    max_rows: int = Field(5_000_000, gt=0, description="Bound on buffered rows.")
    full_policy: FullPolicy = Field(
        FullPolicy.BACKPRESSURE,
        description="When full: backpressure (stop acking and reading) or drop (counted).",
    )


class CleaningConfig(BaseModel):
    """Presence cleaning thresholds."""

    model_config = ConfigDict(extra="forbid")

    method: CleaningMethod = Field(CleaningMethod.SMURF, description="smurf (adaptive) or fixed.")
    fixed_window_s: float = Field(10.0, gt=0, description="Window of the fixed-window method.")
    transition_at_tills_only: bool = Field(
        True,
        description="SMURF's transition test (halving a window when reads thin out) speeds up only"
        " the sold decision of items at an exit/POS zone; elsewhere an item goes missing only after"
        " its full completeness window unread (false: the test shortens every item's window).",
    )
    min_window_s: float = Field(2.0, gt=0, description="Smallest adaptive window.")
    max_window_s: float = Field(60.0, gt=0, description="Largest adaptive window.")
    delta: float = Field(
        1e-4,
        gt=0,
        lt=1,
        description="SMURF completeness risk δ per evaluation epoch (the window is checked every"
        " epoch, so it is far below the paper's per-window 0.05).",
    )
    departed_after_s: float = Field(
        3600.0, gt=0, description="A missing item is declared departed after this long."
    )
    rssi_half_life_s: float = Field(5.0, gt=0, description="Age weighting of RSSI for the zone.")
    moved_holdoff_s: float = Field(3.0, ge=0, description="Hold-off before a zone change is reported.")
    epoch_s: float = Field(1.0, gt=0, description="Evaluation epoch (SMURF's read cycle).")
    lateness_s: float = Field(
        0.5, ge=0, description="Allowance for late batches before an epoch is evaluated."
    )
    exit_grace_s: float = Field(
        2.0,
        ge=0,
        description="An unseen item is sold if read at an exit/POS within this long of its last read.",
    )
    census_half_life_s: float = Field(
        7 * 86400.0, gt=0, description="Half-life of a census-only item's confidence."
    )
    rate_prior: float = Field(0.5, gt=0, lt=1, description="Prior per-epoch read rate of a new tag.")
    rate_prior_weight: float = Field(2.0, gt=0, description="Weight (epochs) of the read-rate prior.")
    rate_memory: float = Field(100.0, gt=0, description="Read epochs after which old evidence weighs 1/e.")
    rssi_ref_dbm: float = Field(-60.0, description="Reference of the linear RSSI power used for zones.")


class SinkConfig(BaseModel):
    """Writing to PostgreSQL/TimescaleDB."""

    model_config = ConfigDict(extra="forbid")

    batch_rows: int = Field(10_000, gt=0, description="Rows per COPY transaction.")
    retry_initial_s: float = Field(0.5, gt=0, description="First retry delay after a retryable error.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest retry delay.")


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address of the Prometheus /metrics endpoint.")
    port: int = Field(9464, ge=0, le=65535, description="Port of /metrics (0: disabled).")


class GatewayConfig(BaseModel):
    """Pipeline settings."""

    model_config = ConfigDict(extra="forbid")

    cycle_s: float = Field(
        1.0, ge=0, description="Reporting cycle of read summaries; 0 stores every raw read."
    )
    flush_interval_s: float = Field(0.2, gt=0, description="Longest wait before a batch is flushed.")
