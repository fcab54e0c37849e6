"""Per-worker cache of the units a node can promise per GTIN (the allocation path's stock read).

A GTIN's column (available units and mean record confidence per node, in the node order of the
`NodeView` it was read for) is read with one query and kept `CELL_TTL_S` seconds. Each reservation
batch hands back the availability of every cell it locked (counted under the lock, so exact as
of that batch): those cells are updated at once, so the hot cells are current without a query of
their own. PostgreSQL stays the authority: a decision taken on a cached column that turns out
short there is re-decided on a fresh read (`invalidate`), as before the cache. What the cache can
miss for up to `CELL_TTL_S`: units arriving, and reservations released by another worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from allocator.api.batcher import CellAvailability
from allocator.api.stock import NodeView, load_cell_arrays
from allocator.model import NodeKind

CELL_TTL_S = 1.0


@dataclass
class _Column:
    at: float  # time.monotonic() when the query that read it was sent
    layout: tuple[str, ...]  # node ids of the view the rows follow
    protect: int
    available: np.ndarray[Any, np.dtype[np.int64]]  # (N,) units - reserved (- protect at shops), >= 0
    confidence: np.ndarray[Any, np.dtype[np.float64]]  # (N,)


@dataclass(frozen=True)
class Cells:
    """(N, G) available units and confidence in a view's node order; `read_at`: when the
    oldest of its columns was read from PostgreSQL (time.monotonic(), query sent)."""

    available: np.ndarray[Any, np.dtype[np.int64]]
    confidence: np.ndarray[Any, np.dtype[np.float64]]
    read_at: float


Connect = Callable[[], Awaitable[AsyncConnection[TupleRow]]]


class CellCache:
    """GTIN columns of availability and confidence, refreshed by TTL and by reservation batches."""

    def __init__(self, ttl_s: float = CELL_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._columns: dict[str, _Column] = {}
        self._layout: tuple[str, ...] = ()
        self._row: dict[str, int] = {}
        # Reads in flight per GTIN: when sent, and the column they will give.
        self._loading: dict[str, tuple[float, asyncio.Future[_Column]]] = {}

    def _usable(
        self, col: _Column | None, layout: tuple[str, ...], protect: int, since: float | None
    ) -> bool:
        if col is None or col.layout != layout or col.protect != protect:
            return False
        return time.monotonic() - col.at <= self.ttl_s if since is None else col.at >= since

    async def arrays(
        self,
        connection: Connect,
        gtins: list[str],
        view: NodeView,
        protect: int,
        *,
        since: float | None = None,
    ) -> Cells:
        """The cells of `gtins` in `view`'s node order.

        A column is used as cached while younger than `ttl_s` (for its node layout and
        protection); with `since`, only if its read was sent at or after `since` (a time.monotonic()
        value). The others come from a read already in flight that qualifies, else from one query
        on `connection()`.
        """
        layout = view.ids
        cols: dict[str, _Column] = {}
        stale: list[str] = []
        for g in gtins:
            col = self._columns.get(g)
            if col is not None and self._usable(col, layout, protect, since):
                cols[g] = col
            else:
                stale.append(g)
        if stale:
            cols.update(await self._load(connection, stale, view, protect, since))
        n = len(view.nodes)
        out_avail = np.empty((n, len(gtins)), dtype=np.int64)
        out_conf = np.empty((n, len(gtins)), dtype=np.float64)
        for j, g in enumerate(gtins):
            out_avail[:, j] = cols[g].available
            out_conf[:, j] = cols[g].confidence
        return Cells(out_avail, out_conf, min(c.at for c in cols.values()) if cols else 0.0)

    async def _load(
        self, connection: Connect, gtins: list[str], view: NodeView, protect: int, since: float | None
    ) -> dict[str, _Column]:
        """Columns of `gtins` from PostgreSQL: joining a read of a GTIN already in flight (when
        sent at or after `since`), one query for the rest."""
        layout = view.ids
        joined: dict[str, asyncio.Future[_Column]] = {}
        for g in gtins:
            flight = self._loading.get(g)
            if flight is not None and (since is None or flight[0] >= since):
                joined[g] = flight[1]
        mine = [g for g in gtins if g not in joined]
        out: dict[str, _Column] = {}
        if mine:
            loop = asyncio.get_running_loop()
            futures = {g: loop.create_future() for g in mine}
            sent = time.monotonic()
            for g, f in futures.items():
                self._loading[g] = (sent, f)
            try:
                cells = await load_cell_arrays(await connection(), mine, view.index)
                is_shop = np.array([n.kind is NodeKind.SHOP for n in view.nodes], dtype=np.bool_)
                avail = np.maximum(
                    cells.units - cells.reserved - np.where(is_shop, protect, 0)[:, None], 0
                )
                if layout != self._layout:
                    self._layout, self._row = layout, dict(view.index)
                for j, g in enumerate(mine):
                    out[g] = _Column(
                        sent, layout, protect, np.ascontiguousarray(avail[:, j]),
                        np.ascontiguousarray(cells.confidence[:, j]),
                    )
                    old = self._columns.get(g)
                    if old is None or old.at <= sent:  # never replace a newer read
                        self._columns[g] = out[g]
            finally:
                for g, f in futures.items():
                    flight = self._loading.get(g)
                    if flight is not None and flight[1] is f:
                        del self._loading[g]
                    if g in out:
                        f.set_result(out[g])
                    else:
                        f.cancel()
        for g, f in joined.items():
            try:
                col: _Column | None = await asyncio.shield(f)
            except asyncio.CancelledError:
                if not f.cancelled():
                    raise  # this request was cancelled, not the read it joined
                col = None  # that read failed: read it ourselves
            if col is None or col.layout != layout or col.protect != protect:
                col = (await self._load(connection, [g], view, protect, time.monotonic()))[g]
            out[g] = col
        return out

    def apply(self, cells: list[CellAvailability]) -> None:
        """Availability counted by a reservation batch (exact as of that batch)."""
        for cell in cells:
            col = self._columns.get(cell.gtin)
            if col is None or col.layout != self._layout:
                continue
            i = self._row.get(cell.node_id)
            if i is not None:
                col.available[i] = cell.available

    def invalidate(self, gtins: list[str] | None = None) -> None:
        """Forget `gtins` (all when None): the next request reads them fresh."""
        if gtins is None:
            self._columns.clear()
            return
        for g in gtins:
            self._columns.pop(g, None)
