"""`shelfsight bench parsers`: reads/s per driver parser on one core, each beside its naive
baseline measured in the same run."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from bench.parsers_json import bench_zebra
from bench.parsers_serial import bench_mercury


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }


def run(seconds: float = 5.0) -> dict[str, Any]:
    zebra = bench_zebra(seconds)
    mercury = bench_mercury(seconds)
    return {
        "machine": machine(),
        "zebra_iotc": {
            "reads_per_s": zebra["shelfsight_reads_per_s"],
            "naive_reads_per_s": zebra["naive_reads_per_s"],
            "speedup": zebra["speedup"],
            "target_reads_per_s": 500_000,
            "detail": zebra,
        },
        "mercury": {
            "reads_per_s": mercury["reads_per_s"],
            "naive_reads_per_s": mercury["baseline_naive_reads_per_s"],
            "speedup": mercury["speedup"],
            "target_reads_per_s": 300_000,
            "detail": mercury,
        },
    }
