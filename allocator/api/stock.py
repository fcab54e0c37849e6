"""Stock as the allocator sees it, read from the gateway's tables.

* Per shop x GTIN: items `present` in `tag_state` (with their mean record confidence) minus open
  reservations minus `CostConfig.protection_units`; per warehouse x GTIN: `warehouse_stock.on_hand`
  minus open reservations. Open = `status = 'active' AND expires_at > now()`, outstanding qty - picked
  (read from the running totals of `reservation_open`, less the rows already expired).
* Velocity: shops' sales of the last `VELOCITY_DAYS` days (`sales_daily`) through the
  simulator's empirical-Bayes estimator (`allocator.velocity`): each cell shrunk towards the prior
  `new_item_velocity_prior` corrected by the GTIN's chain sales and the shop's sales, with a prior
  strength fitted across shops; its gamma shape goes to the snapshot. Warehouses get the prior.
  Each GTIN is estimated with its style's other sizes only (`GtinCache.velocity`), never with
  the order's other lines: the same GTIN has the same velocity in every order.
  (`velocity()`, for one shop's own listing, keeps the simple `PRIOR_DAYS` shrinkage.)
* Per GTIN from `products`: price, cost, markdown date and price, salvage value.
Nodes (the `stores` table) and today's picks per node are cached for `NODES_TTL_S` seconds,
each shop's walk-in units over all GTINs (where the bid-price LP puts the customers) for
`STORE_SALES_TTL_S`, products and sales per GTIN for `GTIN_TTL_S`; units net of reservations
per node x GTIN are read by `load_cell_arrays`, which the allocation path calls through the
per-worker cache of `allocator.api.cells` (at most a second old, never for a refusal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from allocator.config import CostConfig
from allocator.model import Node, NodeKind, StockSnapshot
from allocator.velocity import MAX_SHAPE, estimate

log = logging.getLogger(__name__)

VELOCITY_DAYS = 28
PRIOR_DAYS = 7.0
#: Days a GTIN keeps selling (at the markdown price) after its markdown date, then salvage.
SEASON_TAIL_DAYS = 28.0
#: Days of selling left for a GTIN without a markdown date.
NO_MARKDOWN_HORIZON_DAYS = 90.0
NODES_TTL_S = 5.0
#: Each shop's walk-in units of the last VELOCITY_DAYS, all GTINs (where customers are, for the
#: bid-price LP's carriage): one scan of `sales_daily`, so re-read hourly, not with the nodes.
STORE_SALES_TTL_S = 3600.0
GTIN_TTL_S = 30.0
VELOCITY_MEMO = 4096  # velocity columns (and sets) kept (cleared whole when full)
DEFAULT_CONFIDENCE = 1.0


@dataclass(frozen=True)
class ProductInfo:
    gtin: str
    price: float
    cost: float
    markdown_date: date | None
    markdown_price: float
    salvage: float
    style: str | None = None  # `products.style`: the sizes of one style share it

    def days_to_markdown(self, today: date) -> float | None:
        return None if self.markdown_date is None else float((self.markdown_date - today).days)


def _f(value: Decimal | float | None, default: float = 0.0) -> float:
    return default if value is None else float(value)


async def load_products(conn: AsyncConnection[TupleRow], gtins: list[str]) -> dict[str, ProductInfo]:
    cur = await conn.execute(
        "SELECT gtin, price, cost, markdown_date, markdown_price, salvage_value, style"
        " FROM products WHERE gtin = ANY(%s)",
        (gtins,),
    )
    out: dict[str, ProductInfo] = {}
    for gtin, price, cost, md_date, md_price, salvage, style in await cur.fetchall():
        p = _f(price)
        out[str(gtin)] = ProductInfo(str(gtin), p, _f(cost), md_date, _f(md_price, p), _f(salvage),
                                     str(style) if style else None)
    return out


async def load_siblings(conn: AsyncConnection[TupleRow], styles: list[str]) -> dict[str, list[str]]:
    """GTINs of each style (`products.style`), in GTIN order."""
    cur = await conn.execute(
        "SELECT style, gtin FROM products WHERE style = ANY(%s) ORDER BY style, gtin", (styles,)
    )
    out: dict[str, list[str]] = {s: [] for s in styles}
    for style, gtin in await cur.fetchall():
        out[str(style)].append(str(gtin))
    return out


@dataclass(frozen=True)
class NodeView:
    """One refresh of the nodes: rows in snapshot order, consistent with each other."""

    nodes: tuple[Node, ...] = ()
    kinds: dict[str, NodeKind] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)  # node id -> row in `nodes`
    #: Bumped when the node layout (ids, kinds, in row order) changes, not on every refresh (the
    #: picks and weights change then): columns and velocities cached against `nodes` check it.
    version: int = 0
    ids: tuple[str, ...] = ()  # node ids in row order (the same object while they do not change)
    # (N,) each shop's walk-in units of the last VELOCITY_DAYS (0 at warehouses); None: no sales
    customer_weight: np.ndarray | None = None


@dataclass
class NodeCache:
    """The nodes with coordinates and today's reserved picks per node, refreshed every few s."""

    ttl_s: float = NODES_TTL_S
    sales_ttl_s: float = STORE_SALES_TTL_S
    current: NodeView = field(default_factory=NodeView)
    #: Set by the app: the hourly store-sales re-read then runs in the background on a pooled
    #: connection instead of holding up the node refresh (and the requests waiting on it).
    pool: AsyncConnectionPool | None = None
    _at: float = -1e9
    _sales_at: float = -1e9
    _store_sales: dict[str, float] = field(default_factory=dict)
    _sales_task: asyncio.Task[None] | None = None
    _refresh_task: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.current.nodes

    @property
    def kinds(self) -> dict[str, NodeKind]:
        return self.current.kinds

    async def get(self, conn: AsyncConnection[TupleRow]) -> tuple[Node, ...]:
        return (await self.view(conn)).nodes

    def fresh(self) -> bool:
        """True while `current` is younger than `ttl_s` (then `view` needs no connection).

        With a `pool`, a view once read is also served while a refresh of it runs in the
        background (started here when it is due): requests do not queue behind that query.
        """
        if time.monotonic() - self._at <= self.ttl_s:
            return True
        if self.pool is None or not self.current.version:
            return False
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.create_task(
                self._refresh_pooled(self.pool), name="shelfsight-nodes")
        return True

    async def _refresh_pooled(self, pool: AsyncConnectionPool) -> None:
        try:
            async with pool.connection() as conn, self._lock:
                if time.monotonic() - self._at > self.ttl_s:
                    await self._refresh(conn)
        except Exception:  # the current view stays; the next request after ttl_s tries again
            log.warning("nodes not re-read (the current view kept)", exc_info=True)

    async def view(self, conn: AsyncConnection[TupleRow]) -> NodeView:
        """The current nodes, refreshed first when older than `ttl_s`."""
        if time.monotonic() - self._at <= self.ttl_s:
            return self.current
        async with self._lock:
            if time.monotonic() - self._at > self.ttl_s:
                await self._refresh(conn)
        return self.current

    def invalidate(self) -> None:
        self._at = -1e9
        self._sales_at = -1e9

    async def _refresh_store_sales(self, conn: AsyncConnection[TupleRow]) -> None:
        cur = await conn.execute(
            "SELECT store_id, sum(units)::bigint FROM sales_daily"
            " WHERE day >= now() - make_interval(days => %s) GROUP BY store_id",
            (VELOCITY_DAYS,),
        )
        self._store_sales = {str(store): float(units) for store, units in await cur.fetchall()}
        self._sales_at = time.monotonic()

    async def _refresh_store_sales_pooled(self, pool: AsyncConnectionPool) -> None:
        try:
            async with pool.connection() as conn:
                await self._refresh_store_sales(conn)
        except Exception:  # the next node refresh tries again; the old weights stay meanwhile
            log.warning("store sales not re-read (customer weights kept)", exc_info=True)

    async def close(self) -> None:
        """Cancel a node refresh or store-sales re-read still running (app shutdown)."""
        for task in (self._sales_task, self._refresh_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sales_task = self._refresh_task = None

    async def _refresh(self, conn: AsyncConnection[TupleRow]) -> None:
        cur = await conn.execute(
            "SELECT s.store_id, s.kind, s.lat, s.lon, s.pick_capacity, coalesce(p.units, 0)"
            " FROM stores s LEFT JOIN ("
            "   SELECT node_id, sum(qty)::bigint AS units FROM reservations"
            "    WHERE created_at >= date_trunc('day', now()) AND status IN ('active', 'fulfilled')"
            "    GROUP BY node_id) p ON p.node_id = s.store_id"
            " ORDER BY s.store_id"
        )
        nodes: list[Node] = []
        kinds: dict[str, NodeKind] = {}
        for store_id, kind, lat, lon, cap, picks in await cur.fetchall():
            kinds[str(store_id)] = NodeKind(kind)
            if lat is None or lon is None:
                continue  # a node without a location cannot be costed; never allocated
            nodes.append(Node(str(store_id), NodeKind(kind), float(lat), float(lon), int(cap), int(picks)))
        if time.monotonic() - self._sales_at > self.sales_ttl_s:
            if self.pool is None or self._sales_at < 0:  # first read (or no pool): now
                await self._refresh_store_sales(conn)
            elif self._sales_task is None or self._sales_task.done():
                self._sales_task = asyncio.create_task(
                    self._refresh_store_sales_pooled(self.pool), name="shelfsight-store-sales")
        ids = tuple(node.id for node in nodes)
        weight = np.array([self._store_sales.get(node.id, 0.0) if node.kind is NodeKind.SHOP
                           else 0.0 for node in nodes], dtype=np.float64)
        old = self.current
        same = ids == old.ids and all(a.kind is b.kind for a, b in zip(nodes, old.nodes, strict=True))
        self.current = NodeView(
            tuple(nodes), kinds, {node.id: i for i, node in enumerate(nodes)},
            old.version if same and old.version else old.version + 1,
            old.ids if same else ids,
            weight if weight.sum() > 0 else None,
        )
        self._at = time.monotonic()


@dataclass(frozen=True)
class CellCounts:
    """Raw counts for nodes x GTINs, keyed by (node_id, gtin)."""

    units: dict[tuple[str, str], int]
    confidence: dict[tuple[str, str], float]
    reserved: dict[tuple[str, str], int]
    newest_seen: dict[tuple[str, str], datetime]


#: Units the open reservations of each cell of %(g)s hold (`shelfsight_open_units` for many
#: cells): the running total less the active rows already past their expiry (allocator migration
#: 0005); a CTE of the two stock reads below.
_OPEN_UNITS_CTE = """
WITH expired AS (
    SELECT gtin, node_id, sum(qty - picked) AS units FROM reservations
     WHERE gtin = ANY(%(g)s) AND status = 'active' AND expires_at <= now() GROUP BY 1, 2
), open_units AS (
    SELECT o.gtin, o.node_id, (o.units - coalesce(x.units, 0))::bigint AS units
      FROM reservation_open o LEFT JOIN expired x ON x.gtin = o.gtin AND x.node_id = o.node_id
     WHERE o.gtin = ANY(%(g)s) AND o.units - coalesce(x.units, 0) <> 0
)"""

_CELLS_SQL = _OPEN_UNITS_CTE + """
SELECT 'u', store_id, gtin, count(*)::bigint, avg(confidence)::float8, max(last_seen)
  FROM tag_state WHERE gtin = ANY(%(g)s) AND status = 'present' GROUP BY store_id, gtin
UNION ALL
SELECT 'w', warehouse_id, gtin, on_hand::bigint, NULL, updated_at
  FROM warehouse_stock WHERE gtin = ANY(%(g)s)
UNION ALL
SELECT 'r', node_id, gtin, units, NULL, NULL FROM open_units
"""

_SALES_SQL = """
SELECT store_id, gtin, sum(units)::bigint FROM sales_daily
 WHERE gtin = ANY(%s) AND day >= now() - make_interval(days => %s) GROUP BY store_id, gtin
"""


async def load_cells(conn: AsyncConnection[TupleRow], gtins: list[str]) -> CellCounts:
    cur = await conn.execute(_CELLS_SQL, {"g": gtins})
    counts = CellCounts({}, {}, {}, {})
    for tag, node, gtin, n, conf, seen in await cur.fetchall():
        key = (str(node), str(gtin))
        if tag in ("u", "w"):
            counts.units[key] = int(n)
            if conf is not None:
                counts.confidence[key] = float(conf)
            if seen is not None:
                counts.newest_seen[key] = seen
        else:
            counts.reserved[key] = int(n)
    return counts


_SNAPSHOT_CELLS_SQL = _OPEN_UNITS_CTE + """
SELECT false, store_id, gtin, count(*)::bigint, avg(confidence)::float8
  FROM tag_state WHERE gtin = ANY(%(g)s) AND status = 'present' GROUP BY store_id, gtin
UNION ALL
SELECT false, warehouse_id, gtin, on_hand::bigint, NULL
  FROM warehouse_stock WHERE gtin = ANY(%(g)s)
UNION ALL
SELECT true, node_id, gtin, units, NULL FROM open_units
"""


@dataclass(frozen=True)
class CellArrays:
    """Units, open reservations and mean confidence for nodes x GTINs, in snapshot order."""

    units: np.ndarray
    reserved: np.ndarray
    confidence: np.ndarray


async def load_cell_arrays(
    conn: AsyncConnection[TupleRow], gtins: list[str], index: dict[str, int]
) -> CellArrays:
    """The allocation path's read: straight into arrays (rows of nodes not in `index` skipped)."""
    cur = await conn.execute(_SNAPSHOT_CELLS_SQL, {"g": gtins})
    n, col = len(index), {g: j for j, g in enumerate(gtins)}
    units = np.zeros((n, len(gtins)), dtype=np.int64)
    reserved = np.zeros((n, len(gtins)), dtype=np.int64)
    conf = np.full((n, len(gtins)), DEFAULT_CONFIDENCE, dtype=np.float64)
    for is_reservation, node, gtin, count, mean_conf in await cur.fetchall():
        i = index.get(node)
        if i is None:
            continue
        j = col[gtin]
        if is_reservation:
            reserved[i, j] = count
        else:
            units[i, j] = count
            if mean_conf is not None:
                conf[i, j] = mean_conf
    np.clip(conf, 0.0, 1.0, out=conf)
    return CellArrays(units, reserved, conf)


@dataclass
class GtinCache:
    """Products and recent sales per GTIN, cached `ttl_s` (they change daily, not per order).

    Unknown GTINs are not cached: a product added meanwhile is found on the next request.
    """

    ttl_s: float = GTIN_TTL_S
    _entries: dict[str, tuple[float, ProductInfo, dict[str, int]]] = field(default_factory=dict)
    #: Per GTIN, its sales as a column over `NodeCache.nodes` of the version noted.
    _columns: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)
    #: The GTINs of each style (`ProductInfo.style`), refreshed with the style's products.
    _styles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Velocity columns by (node view version, prior, ((GTIN, its entry's time), ...) of the
    #: GTIN's style).
    _velocity: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: Per GTIN set of more than one: the columns it was stacked from, and the stacked arrays.
    _velocity_sets: dict[tuple[str, ...], tuple[tuple[tuple[np.ndarray, np.ndarray], ...],
                                                tuple[np.ndarray, np.ndarray]]] = field(
        default_factory=dict)

    def sales_columns(self, gtins: list[str], nodes: NodeView) -> np.ndarray:
        """Recent sales per node x GTIN (GTINs fetched by `get` first), columns cached."""
        out = np.zeros((len(nodes.nodes), len(gtins)), dtype=np.float64)
        for j, g in enumerate(gtins):
            cached = self._columns.get(g)
            if cached is None or cached[0] != nodes.version:
                column = np.zeros(len(nodes.nodes), dtype=np.float64)
                entry = self._entries.get(g)
                for store, units in (entry[2] if entry is not None else {}).items():
                    i = nodes.index.get(store)
                    if i is not None:
                        column[i] = units
                cached = self._columns[g] = (nodes.version, column)
            out[:, j] = cached[1]
        return out

    def style_pool(self, gtin: str) -> list[str]:
        """`gtin`, then the other sizes of its style cached by `get` (a GTIN without a style
        stands alone): the GTINs its velocity is estimated with."""
        style = self._style(gtin)
        if style is None:
            return [gtin]
        return [gtin, *(s for s in self._styles.get(style, ()) if s != gtin and s in self._entries)]

    def _style(self, gtin: str) -> str | None:
        entry = self._entries.get(gtin)
        return None if entry is None else entry[1].style

    def velocity(
        self, gtins: list[str], nodes: NodeView, costs: CostConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N, G) velocity and gamma shape of `gtins` (fetched by `get` first) over `nodes`.

        Each GTIN is estimated with the other sizes of its style and nothing else
        (`allocator.velocity`: a shop's sales of every size estimate its rate of the style,
        split by the chain's size curve), so a GTIN's velocity does not depend on what else
        the order holds. Each column is memoised while the node layout and the sales entries
        of its style stay the same; a set's arrays too (the same objects while its columns
        are), read-only: every snapshot shares them."""
        cols = [self._velocity_column(g, nodes, costs) for g in gtins]
        if len(cols) == 1:
            return cols[0]
        if not cols:
            empty = np.zeros((len(nodes.nodes), 0))
            return empty, empty.copy()
        key = tuple(gtins)
        found = self._velocity_sets.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], cols, strict=True)):
            return found[1]
        vel = np.hstack([c[0] for c in cols])
        shape = np.hstack([c[1] for c in cols])
        vel.flags.writeable = shape.flags.writeable = False
        if len(self._velocity_sets) >= VELOCITY_MEMO:
            self._velocity_sets.clear()
        self._velocity_sets[key] = (tuple(cols), (vel, shape))
        return vel, shape

    def _velocity_column(
        self, gtin: str, nodes: NodeView, costs: CostConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N, 1) velocity and shape of `gtin`, estimated with its style's other sizes."""
        prior = costs.new_item_velocity_prior
        pooled = self.style_pool(gtin)
        stamps = tuple((g, e[0] if (e := self._entries.get(g)) is not None else -1.0)
                       for g in pooled)
        key = (nodes.version, prior, stamps)
        found = self._velocity.get(key)
        if found is None:
            if len(self._velocity) >= VELOCITY_MEMO:
                self._velocity.clear()
            is_shop = np.array([n.kind is NodeKind.SHOP for n in nodes.nodes], dtype=np.bool_)
            one_style = np.zeros(len(pooled), dtype=np.int64)
            vel, shape = snapshot_velocity(self.sales_columns(pooled, nodes), is_shop[:, None],
                                           costs, one_style)
            vel, shape = vel[:, :1].copy(), shape[:, :1].copy()
            vel.flags.writeable = shape.flags.writeable = False  # shared by every snapshot
            found = self._velocity[key] = (vel, shape)
        return found

    def missing(self, gtins: list[str]) -> list[str]:
        """GTINs of `gtins` not cached or older than `ttl_s` (unknown ones are never cached)."""
        now = time.monotonic()
        return [g for g in gtins if (e := self._entries.get(g)) is None or now - e[0] > self.ttl_s]

    def cached(self, gtins: list[str]) -> dict[str, ProductInfo]:
        """The cached products of `gtins` (no query: `get` or `missing` first)."""
        found: dict[str, ProductInfo] = {}
        for g in gtins:
            entry = self._entries.get(g)
            if entry is not None:
                found[g] = entry[1]
        return found

    async def get(
        self, conn: AsyncConnection[TupleRow], gtins: list[str]
    ) -> tuple[dict[str, ProductInfo], dict[tuple[str, str], int]]:
        missing = self.missing(gtins)
        now = time.monotonic()
        if missing:
            products = await load_products(conn, missing)
            styles = sorted({p.style for p in products.values() if p.style is not None})
            if styles:  # the other sizes of these styles come along (velocity pools them)
                siblings = await load_siblings(conn, styles)
                for s, members in siblings.items():
                    self._styles[s] = tuple(members)
                extra = [g for m in siblings.values() for g in m if g not in products]
                if extra:
                    products.update(await load_products(conn, extra))
                missing = list(products)
            cur = await conn.execute(_SALES_SQL, (missing, VELOCITY_DAYS))
            sales: dict[str, dict[str, int]] = {g: {} for g in products}
            for store, gtin, units in await cur.fetchall():
                if gtin in sales:
                    sales[gtin][str(store)] = int(units)
            for g, info in products.items():
                self._entries[g] = (now, info, sales[g])
                self._columns.pop(g, None)
        found: dict[str, ProductInfo] = {}
        sold: dict[tuple[str, str], int] = {}
        for g in gtins:
            entry = self._entries.get(g)
            if entry is None:
                continue
            found[g] = entry[1]
            sold.update({(store, g): n for store, n in entry[2].items()})
        return found, sold


def available(units: int, reserved: int, is_shop: bool, costs: CostConfig) -> int:
    return max(units - reserved - (costs.protection_units if is_shop else 0), 0)


def velocity(sold: int, is_shop: bool, costs: CostConfig) -> float:
    prior = costs.new_item_velocity_prior
    if not is_shop:
        return prior
    return (sold + prior * PRIOR_DAYS) / (VELOCITY_DAYS + PRIOR_DAYS)


def snapshot_velocity(
    sales: np.ndarray, is_shop: np.ndarray, costs: CostConfig, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(N, G) velocity and gamma shape from `sales` (units of the last `VELOCITY_DAYS` days):
    shops pooled across shops per GTIN and across the sizes of a style (`groups`, (G,) style
    index; `allocator.velocity.estimate`), warehouses the prior."""
    prior = costs.new_item_velocity_prior
    shop = is_shop.reshape(-1)
    vel = np.full(sales.shape, prior, dtype=np.float64)
    shape = np.full(sales.shape, MAX_SHAPE, dtype=np.float64)
    if shop.any() and sales.shape[1]:
        rows = np.asarray(sales, dtype=np.float64)[shop]
        est = estimate(rows, np.full(rows.shape, float(VELOCITY_DAYS)), np.full(rows.shape, prior),
                       groups)
        vel[shop] = est.rate
        shape[shop] = est.shape
    return vel, shape


def build_snapshot(
    nodes: tuple[Node, ...],
    products: dict[str, ProductInfo],
    gtins: list[str],
    cells: CellArrays,
    sales: np.ndarray,
    costs: CostConfig,
    today: date | None = None,
) -> StockSnapshot:
    """The columnar snapshot for `gtins` (all in `products`) across `nodes` (pure).

    `cells` and `sales` (recent units sold) are nodes x GTINs in the order given.
    """
    is_shop = np.array([node.kind is NodeKind.SHOP for node in nodes], dtype=np.bool_)[:, None]
    protect = np.where(is_shop, costs.protection_units, 0)
    avail = np.maximum(cells.units - cells.reserved - protect, 0)
    return snapshot_of(nodes, products, gtins, avail, cells.confidence, sales, costs, today)


def snapshot_of(
    nodes: tuple[Node, ...],
    products: dict[str, ProductInfo],
    gtins: list[str],
    avail: np.ndarray,
    confidence: np.ndarray,
    sales: np.ndarray | None,
    costs: CostConfig,
    today: date | None = None,
    *,
    velocity: tuple[np.ndarray, np.ndarray] | None = None,
    customer_weight: np.ndarray | None = None,
) -> StockSnapshot:
    """`build_snapshot` from units already net of reservations and protection (pure).

    `velocity`: (velocity, gamma shape) as `snapshot_velocity` gives them for `sales`, when
    known already (then `sales` is not used). `customer_weight`: `NodeView.customer_weight`."""
    day = today or datetime.now(UTC).date()
    if velocity is None:
        assert sales is not None
        is_shop = np.array([node.kind is NodeKind.SHOP for node in nodes], dtype=np.bool_)[:, None]
        velocity = snapshot_velocity(sales, is_shop, costs)
    vel, vel_shape = velocity
    info = [products[x] for x in gtins]
    to_md = [p.days_to_markdown(day) for p in info]
    has_md = np.array([d is not None for d in to_md], dtype=np.bool_)
    md = np.array([0.0 if d is None else d for d in to_md], dtype=np.float64)
    full = np.array([p.price for p in info], dtype=np.float64)
    marked = np.array([p.markdown_price for p in info], dtype=np.float64)
    # Past its markdown date a GTIN sells at the markdown price, with no markdown step left.
    price = np.where(has_md & (md <= 0), marked, full)
    to_end = np.where(has_md, np.maximum(md + SEASON_TAIL_DAYS, 0.0), NO_MARKDOWN_HORIZON_DAYS)
    return StockSnapshot.build(
        nodes,
        gtins,
        avail,
        price=price,
        cost=[p.cost for p in info],
        days_to_markdown=np.where(has_md, md, 0.0),
        markdown_price=marked,
        days_to_end=to_end,
        salvage=[p.salvage for p in info],
        confidence=confidence,
        velocity=vel,
        velocity_shape=vel_shape,
        customer_weight=customer_weight,
    )
