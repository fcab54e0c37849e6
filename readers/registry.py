"""The built-in drivers, registered explicitly, plus plugins from entry points."""

from __future__ import annotations

from readers.driver import DriverRegistry


def default_registry(plugins: bool = True) -> DriverRegistry:
    from readers.drivers import impinj, mercury, r2000, tsl, zebra

    registry = DriverRegistry()
    for module in (zebra, impinj, mercury, r2000, tsl):
        registry.add(module.SPEC)
    if plugins:
        registry.load_entry_points()
    return registry
