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
    def from_config(
        cls,
        config: CleaningConfig,
        *,
        epoch_s: float | None = None,
        lateness_s: float | None = None,
        rate_prior: float | None = None,
        rate_prior_weight: float | None = None,
        rate_memory: float | None = None,
        census_half_life_s: float | None = None,
        rssi_ref_dbm: float | None = None,
        exit_grace_s: float | None = None,
    ) -> CleanerParams:
        """Keyword arguments override the config (benchmarks sweep them); None takes the config's."""
        epoch_s = config.epoch_s if epoch_s is None else epoch_s
        lateness_s = config.lateness_s if lateness_s is None else lateness_s
        rate_prior = config.rate_prior if rate_prior is None else rate_prior
        rate_prior_weight = config.rate_prior_weight if rate_prior_weight is None else rate_prior_weight
        rate_memory = config.rate_memory if rate_memory is None else rate_memory
        census_half_life_s = config.census_half_life_s if census_half_life_s is None else census_half_life_s
        rssi_ref_dbm = config.rssi_ref_dbm if rssi_ref_dbm is None else rssi_ref_dbm
        exit_grace_s = config.exit_grace_s if exit_grace_s is None else exit_grace_s
        if epoch_s <= 0 or lateness_s < 0:
            raise ValueError("epoch_s must be > 0 and lateness_s >= 0")
        if not 0 < rate_prior < 1 or rate_prior_weight <= 0 or rate_memory <= 0:
            raise ValueError("bad read-rate prior")
        return cls(
            epoch_ns=round(epoch_s * NS),
            lateness_ns=round(lateness_s * NS),
            holdoff_ns=round(config.moved_holdoff_s * NS),
            departed_after_ns=round(config.departed_after_s * NS),
            rssi_half_life_ns=config.rssi_half_life_s * NS,
            census_half_life_ns=census_half_life_s * NS,
            rssi_ref_dbm=rssi_ref_dbm,
            exit_grace_ns=round(exit_grace_s * NS),
            a=rate_prior * rate_prior_weight,
            b=(1.0 - rate_prior) * rate_prior_weight,
            forget=math.exp(-1.0 / rate_memory),
        )
