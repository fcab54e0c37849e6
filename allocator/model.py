"""Value types of an allocation decision: nodes, orders and the columnar stock snapshot.

A `StockSnapshot` is what a policy sees: for N nodes (shops and warehouses) and G GTINs, numpy
arrays of available units, record confidence and sales velocity, plus per-GTIN prices and the
markdown calendar. Build it with `StockSnapshot.build(nodes, gtins, available, ...)`; arrays are
held, not copied, so a simulator may update them in place between decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


class NodeKind(StrEnum):
    SHOP = "shop"
    WAREHOUSE = "warehouse"


class ServiceLevel(StrEnum):
    STANDARD = "standard"
    EXPRESS = "express"


class SnapshotError(ValueError):
    """A snapshot whose arrays do not agree in shape or hold impossible values."""


@dataclass(frozen=True)
class Node:
    """A shop or a warehouse; `pick_capacity` = units it may pick per day, `picks_today` = used."""

    id: str
    kind: NodeKind
    lat: float
    lon: float
    pick_capacity: int
    picks_today: int = 0


@dataclass(frozen=True)
class OrderLine:
    gtin: str
    qty: int


@dataclass(frozen=True)
class Order:
    """An online order; `collect_shop` set = click-and-collect at that shop's id."""

    id: str
    lines: tuple[OrderLine, ...]
    ship_lat: float
    ship_lon: float
    service_level: ServiceLevel = ServiceLevel.STANDARD
    collect_shop: str | None = None


def _f(arr: object, shape: tuple[int, ...], name: str) -> FloatArray:
    out: FloatArray = np.asarray(arr, dtype=np.float64)
    if out.shape != shape:
        raise SnapshotError(f"{name}: shape {out.shape}, expected {shape}")
    return out


def _i(arr: object, shape: tuple[int, ...], name: str) -> IntArray:
    out: IntArray = np.asarray(arr, dtype=np.int64)
    if out.shape != shape:
        raise SnapshotError(f"{name}: shape {out.shape}, expected {shape}")
    return out


@dataclass(frozen=True, eq=False)
class StockSnapshot:
    """Columnar stock of N nodes x G GTINs (see module doc).

    Per node (N,): `node_ids`, `is_shop`, `lat`, `lon`, `pick_capacity` (units/day, hard cap),
    `picks_today`. Per node x GTIN (N, G): `available` (recorded units offered), `confidence`
    (probability a recorded unit is physically pickable), `velocity` (expected units/day the node
    itself would sell: walk-in for shops, online for warehouses). Per GTIN (G,): `price` (current
    selling price), `cost`, `days_to_markdown` (days until the next markdown step; a value >=
    `days_to_end` means none is left), `markdown_price` (price after it), `days_to_end` (days
    until end of life), `salvage` (value of a unit left at end of life).
    `markdown_lift` multiplies velocity during the markdown period (one number, or (G,): the
    lift of each GTIN's next markdown step over its current price). `future_full` and
    `future_markdown` (N, G), when given, are *known* future demand (evaluation only: a
    what-if with perfect foresight); otherwise demand is Poisson from velocity. `rebuy_cost`
    (G,), when given, is what the warehouse pays to re-buy a unit of the GTIN while re-buys
    are still open (NaN once closed): a warehouse unit that can be replaced is worth at most
    that.
    `velocity_shape` (N, G), when given, is the shape of the gamma posterior behind each
    velocity (prior pseudo-sales + sales seen): Δ then uses negative-binomial demand.
    `customer_weight` (N,), when given, is where the chain's customers are, as each shop's share
    of its walk-in sales over *all* GTINs (0 at warehouses): the bid-price LP ships online units
    to the distance so weighted. Without it the snapshot's own velocities stand in, which
    depend on the GTINs the snapshot holds.
    `bid_value` and `bid_online` (N, G), when given, are bid prices from the expected-demand
    season LP (`allocator.policies.bidprice`): the value of one unit at the node, and its value
    through the online channel alone; the `shelfsight` policy blends them into Δ.
    """

    node_ids: tuple[str, ...]
    is_shop: BoolArray
    lat: FloatArray
    lon: FloatArray
    pick_capacity: IntArray
    picks_today: IntArray
    gtins: tuple[str, ...]
    available: IntArray
    confidence: FloatArray
    velocity: FloatArray
    price: FloatArray
    cost: FloatArray
    days_to_markdown: FloatArray
    markdown_price: FloatArray
    days_to_end: FloatArray
    salvage: FloatArray
    markdown_lift: float | FloatArray = 1.5
    future_full: FloatArray | None = None
    future_markdown: FloatArray | None = None
    rebuy_cost: FloatArray | None = None
    velocity_shape: FloatArray | None = None
    customer_weight: FloatArray | None = None
    bid_value: FloatArray | None = None
    bid_online: FloatArray | None = None
    _gtin_index: dict[str, int] = field(default_factory=dict, repr=False)
    _node_index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self._gtin_index:
            self._gtin_index.update({g: i for i, g in enumerate(self.gtins)})
        if not self._node_index:
            self._node_index.update({n: i for i, n in enumerate(self.node_ids)})
        if len(self._gtin_index) != len(self.gtins) or len(self._node_index) != len(self.node_ids):
            raise SnapshotError("duplicate node or GTIN id")

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_gtins(self) -> int:
        return len(self.gtins)

    def gtin_index(self, gtin: str) -> int | None:
        return self._gtin_index.get(gtin)

    def node_index(self, node_id: str) -> int | None:
        return self._node_index.get(node_id)

    @classmethod
    def build(
        cls,
        nodes: Sequence[Node],
        gtins: Sequence[str],
        available: object,
        *,
        price: object,
        cost: object,
        days_to_markdown: object,
        markdown_price: object,
        days_to_end: object,
        salvage: object,
        confidence: object | None = None,
        velocity: object | None = None,
        markdown_lift: float | object = 1.5,
        future_full: object | None = None,
        future_markdown: object | None = None,
        rebuy_cost: object | None = None,
        velocity_shape: object | None = None,
        customer_weight: object | None = None,
        bid_value: object | None = None,
        bid_online: object | None = None,
    ) -> StockSnapshot:
        """Check shapes and build; `confidence` defaults to 1, `velocity` to 0."""
        n, g = len(nodes), len(gtins)
        ng = (n, g)
        avail = _i(available, ng, "available")
        if (avail < 0).any():
            raise SnapshotError("available: negative units")
        conf = _f(np.ones(ng) if confidence is None else confidence, ng, "confidence")
        if ((conf < 0) | (conf > 1)).any():
            raise SnapshotError("confidence: outside [0, 1]")
        vel = _f(np.zeros(ng) if velocity is None else velocity, ng, "velocity")
        weight = None if customer_weight is None else _f(customer_weight, (n,), "customer_weight")
        if weight is not None and (weight < 0).any():
            raise SnapshotError("customer_weight: negative")
        return cls(
            node_ids=tuple(x.id for x in nodes),
            is_shop=np.array([x.kind is NodeKind.SHOP for x in nodes], dtype=np.bool_),
            lat=np.array([x.lat for x in nodes], dtype=np.float64),
            lon=np.array([x.lon for x in nodes], dtype=np.float64),
            pick_capacity=np.array([x.pick_capacity for x in nodes], dtype=np.int64),
            picks_today=np.array([x.picks_today for x in nodes], dtype=np.int64),
            gtins=tuple(gtins),
            available=avail,
            confidence=conf,
            velocity=vel,
            price=_f(price, (g,), "price"),
            cost=_f(cost, (g,), "cost"),
            days_to_markdown=_f(days_to_markdown, (g,), "days_to_markdown"),
            markdown_price=_f(markdown_price, (g,), "markdown_price"),
            days_to_end=_f(days_to_end, (g,), "days_to_end"),
            salvage=_f(salvage, (g,), "salvage"),
            markdown_lift=(
                markdown_lift if isinstance(markdown_lift, (int, float))
                else _f(markdown_lift, (g,), "markdown_lift")
            ),
            future_full=None if future_full is None else _f(future_full, ng, "future_full"),
            future_markdown=(
                None if future_markdown is None else _f(future_markdown, ng, "future_markdown")
            ),
            rebuy_cost=None if rebuy_cost is None else _f(rebuy_cost, (g,), "rebuy_cost"),
            velocity_shape=(
                None if velocity_shape is None else _f(velocity_shape, ng, "velocity_shape")
            ),
            customer_weight=weight,
            bid_value=None if bid_value is None else _f(bid_value, ng, "bid_value"),
            bid_online=None if bid_online is None else _f(bid_online, ng, "bid_online"),
        )
