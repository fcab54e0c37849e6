"""shelfsight: item-level RFID into sellable online stock."""

from __future__ import annotations

__version__ = "0.1.0"
