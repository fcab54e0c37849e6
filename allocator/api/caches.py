"""The per-process caches of one app: nodes, products and sales per GTIN, stock cells per GTIN,
the stock-independent part of each GTIN set's snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field

from allocator.api.cells import CellCache
from allocator.api.snapmemo import SnapshotMemo
from allocator.api.stock import GtinCache, NodeCache
from allocator.bidcache import BidPriceCache


@dataclass
class Caches:
    nodes: NodeCache = field(default_factory=NodeCache)
    gtins: GtinCache = field(default_factory=GtinCache)
    cells: CellCache = field(default_factory=CellCache)
    snapshots: SnapshotMemo = field(default_factory=SnapshotMemo)
    bids: BidPriceCache | None = None  # set by the app's lifespan when bid prices are enabled
