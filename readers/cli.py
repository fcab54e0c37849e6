"""`shelfsight epc ...` and `shelfsight readers ...`."""

from __future__ import annotations

from readers.decode_cli import readers_app
from readers.epc_cli import epc_app

__all__ = ["epc_app", "readers_app"]
