"""The built-in drivers, registered explicitly, plus plugins from entry points."""

from __future__ import annotations

from readers.driver import DriverRegistry


def default_registry(plugins: bool = True) -> DriverRegistry:
    from readers.drivers.impinj import SPEC as IMPINJ
    from readers.drivers.mercury import SPEC as MERCURY
    from readers.drivers.r2000 import SPEC as R2000
    from readers.drivers.tsl import SPEC as TSL
    from readers.drivers.zebra import SPEC as ZEBRA

    registry = DriverRegistry()
    for spec in (ZEBRA, IMPINJ, MERCURY, R2000, TSL):
        registry.add(spec)
    if plugins:
        registry.load_entry_points()
    return registry
