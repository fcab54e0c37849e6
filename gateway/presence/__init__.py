"""Presence cleaning: raw reads -> per-tag presence, zone and events (DESIGN §4)."""

from __future__ import annotations

from gateway.presence.cleaner import Cleaner, CleanerCounters, TagColumns
from gateway.presence.events import EventKind, StatusCode, TagEvent, TagStateRow, TagStatus
from gateway.presence.zones import ZoneOf, zone_map_from_readers

__all__ = [
    "Cleaner",
    "CleanerCounters",
    "EventKind",
    "StatusCode",
    "TagColumns",
    "TagEvent",
    "TagStateRow",
    "TagStatus",
    "ZoneOf",
    "zone_map_from_readers",
]
