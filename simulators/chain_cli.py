"""`shelfsight simulate chain`: one season of the chain under one policy, as JSON or a table."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from allocator.config import CostConfig
from allocator.policies import UnknownPolicyError, get_policy, policy_names
from shelfsight.settings import ChainSettings, ConfigError, load_settings
from simulators.chain import ChainSimulation
from simulators.chain_bound import HINDSIGHT, season_bound
from simulators.config import ChainConfig

logger = logging.getLogger(__name__)


def simulate(
    policy: str, seed: int, chain: ChainConfig, costs: CostConfig, *, show_progress: bool = False,
    keep: list[ChainSimulation] | None = None,
) -> dict[str, Any]:
    """Run one season; the result is a pure function of (policy, seed, chain, costs) except
    the `decision_ms_*` timings. `hindsight` is the perfect-information season LP
    (`simulators.chain_bound`): an upper bound on any policy's margin, for evaluation only.
    `keep`: the finished simulation is appended to it (its state after the season, e.g. the
    warehouse's re-buys)."""
    if policy == HINDSIGHT:
        return season_bound(chain, costs, seed)
    pol = get_policy(policy)
    console = Console(stderr=True)
    if not show_progress or not console.is_terminal:
        sim = ChainSimulation(chain, costs, seed, pol)
        metrics = sim.run()
    else:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("day {task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(f"{policy} seed {seed}", total=chain.days)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            sim = ChainSimulation(chain, costs, seed, pol, progress=tick)
            metrics = sim.run()
    if keep is not None:
        keep.append(sim)
    return {"policy": policy, "seed": seed, "stores": chain.stores, "skus": chain.skus,
            "days": chain.days, "accuracy": chain.rfid_accuracy, **metrics}


def run_chain(
    policy: str, seed: int, stores: int | None, skus: int | None, days: int | None,
    accuracy: float | None, config: Path | None, as_json: bool,
) -> int:
    """The `simulate chain` command: exit 0, or 2 on a bad policy name or configuration."""
    try:
        settings = load_settings(ChainSettings, config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    updates: dict[str, Any] = {k: v for k, v in
                               (("stores", stores), ("skus", skus), ("days", days),
                                ("rfid_accuracy", accuracy)) if v is not None}
    try:
        chain = ChainConfig.model_validate({**settings.chain.model_dump(), **updates})
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = simulate(policy, seed, chain, settings.costs, show_progress=True)
    except UnknownPolicyError:
        print(f"error: unknown policy {policy!r}; one of: {', '.join((*policy_names(), HINDSIGHT))}",
              file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result, indent=2))
        return 0
    table = Table(title=f"chain season: policy {policy}, seed {seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
    return 0
