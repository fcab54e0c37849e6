"""The cleaner's thresholds in the units it computes with (ns, epochs), from CleaningConfig."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.config import CleaningConfig

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class CleanerParams:
    """Thresholds of one cleaner; times in ns (see CleaningConfig for their meaning).

    a, b: Beta prior of the read rate (pseudo hits and misses); forget: weight of old evidence
    per new read epoch.
    """

    epoch_ns: int
    lateness_ns: int
    holdoff_ns: int
    departed_after_ns: int
    rssi_half_life_ns: float
    census_half_life_ns: float
    rssi_ref_dbm: float
    exit_grace_ns: int
    a: float
    b: float
    forget: float

    @classmethod
    def from_config(cls, config: CleaningConfig) -> CleanerParams:
        """Nanosecond-scaled thresholds from the (already validated) config."""
        rate_prior, weight = config.rate_prior, config.rate_prior_weight
        return cls(
            epoch_ns=round(config.epoch_s * NS),
            lateness_ns=round(config.lateness_s * NS),
            holdoff_ns=round(config.moved_holdoff_s * NS),
            departed_after_ns=round(config.departed_after_s * NS),
            rssi_half_life_ns=config.rssi_half_life_s * NS,
            census_half_life_ns=config.census_half_life_s * NS,
            rssi_ref_dbm=config.rssi_ref_dbm,
            exit_grace_ns=round(config.exit_grace_s * NS),
            a=rate_prior * weight,
            b=(1.0 - rate_prior) * weight,
            forget=math.exp(-1.0 / config.rate_memory),
        )
