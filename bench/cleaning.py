"""`shelfsight bench cleaning`: presence cleaning against the shop simulator's ground truth.

Every method consumes the same simulated read stream in lock-step (one simulation run), so the
figures are paired. After each cycle the cleaner's state is compared with where every item
truly is: item-level presence precision/recall/accuracy (items that have entered the shop so
far, after a warm-up), zone accuracy among items correctly present, count accuracy per shop x
GTIN, false departures (sold/departed events for items still in the shop), false missing
events, and the latency of sold events after the item truly left through the exit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import Progress

from gateway.config import CleaningConfig, CleaningMethod
from gateway.presence import Cleaner, EventKind, StatusCode
from simulators.shop import NS, ZONES, ExitKind, ShopConfig, ShopSim, zone_map

FIXED_WINDOWS_S = (2.0, 5.0, 10.0, 30.0)
# SMURF's delta is a per-window risk; the cleaner evaluates every epoch, so a present tag is
# dropped with probability up to delta *per epoch*: stock needs a far smaller delta than the
# paper's 0.05 (the config default, reported beside it).
RECOMMENDED_DELTA = 1e-4
WARMUP_S = 60.0
COUNT_EVERY = 10  # cycles between count-accuracy samples


@dataclass
class _Score:
    name: str
    cleaner: Cleaner
    ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    zone_ok: int = 0
    abs_count_err: int = 0
    true_count: int = 0
    exact_gtins: int = 0
    gtin_samples: int = 0
    departures: int = 0
    false_departures: int = 0
    missing_events: int = 0
    false_missing: int = 0
    sold_at: dict[int, list[int]] = field(default_factory=dict)  # item -> sold-event emissions
    events: int = 0
    cpu_s: float = 0.0


def _configs() -> list[tuple[str, CleaningConfig]]:
    out = [
        ("smurf", CleaningConfig(method=CleaningMethod.SMURF, delta=RECOMMENDED_DELTA)),
        ("smurf_delta_0.05", CleaningConfig(method=CleaningMethod.SMURF, delta=0.05)),
    ]
    out += [
        (f"fixed_{w:g}s", CleaningConfig(method=CleaningMethod.FIXED, fixed_window_s=w))
        for w in FIXED_WINDOWS_S
    ]
    return out


# Issue #4: >= 99.5% item-level presence accuracy, <= 0.2% false departures, better than every
# fixed window.
TARGET_ACCURACY_PCT = 99.5
TARGET_FALSE_DEPARTURES_PCT = 0.2


def false_departure_pct(m: dict[str, Any]) -> float:
    """The stricter of the two false-departure rates (per departure event, per item), in %."""
    rates = [m["false_departure_rate_pct"], m["false_departures_per_item_pct"]]
    return max((r for r in rates if r is not None), default=0.0)


def target_check(smurf: dict[str, Any], fixed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's target for the adaptive method, and where it stands against each fixed window
    (accuracy: strictly better; false departures: no worse, as 0 cannot be beaten)."""
    acc = smurf["presence_accuracy_pct"] or 0.0
    fd = false_departure_pct(smurf)
    better_acc = {k: acc > (m["presence_accuracy_pct"] or 0.0) for k, m in fixed.items()}
    no_worse_fd = {k: fd <= false_departure_pct(m) for k, m in fixed.items()}
    return {
        "presence_accuracy_pct": acc,
        "false_departures_pct_stricter": fd,
        "accuracy_ok": acc >= TARGET_ACCURACY_PCT,
        "false_departures_ok": fd <= TARGET_FALSE_DEPARTURES_PCT,
        "beats_fixed_on_accuracy": better_acc,
        "no_more_false_departures_than_fixed": no_worse_fd,
        "met": acc >= TARGET_ACCURACY_PCT
        and fd <= TARGET_FALSE_DEPARTURES_PCT
        and all(better_acc.values())
        and all(no_worse_fd.values()),
    }


def run_seeds(seeds: Sequence[int], items: int = 3000, minutes: float = 30.0) -> dict[str, Any]:
    """`run` for each seed, then the mean of every numeric metric per method over the seeds
    (rates recomputed from the summed counts where they are ratios of counts)."""
    runs = [run(seed=s, items=items, minutes=minutes) for s in seeds]
    names = list(runs[0]["methods"])
    mean: dict[str, dict[str, float | None]] = {}
    for name in names:
        rows = [r["methods"][name] for r in runs]
        out: dict[str, float | None] = {}
        for key in rows[0]:
            vals = [r[key] for r in rows if r[key] is not None]
            out[key] = round(float(np.mean(vals)), 4) if vals else None
        dep = sum(r["departure_events"] for r in rows)
        false = sum(r["false_departures"] for r in rows)
        out["false_departure_rate_pct_pooled"] = _pct(false, dep)
        out["false_departures_per_item_pct_pooled"] = _pct(false, sum(x["items_entered"] for x in runs))
        mean[name] = out
    fixed = {k: m for k, m in mean.items() if k.startswith("fixed")}
    return {
        "benchmark": "cleaning",
        "seeds": list(seeds),
        "items": items,
        "minutes": minutes,
        "mean": mean,
        "target_on_means": target_check(mean["smurf"], fixed) if "smurf" in mean else None,
        "target_met_every_seed": all(r["target"]["met"] for r in runs),
        "runs": runs,
    }


def _pct(a: float, b: float) -> float | None:
    return None if b == 0 else round(100.0 * a / b, 4)


def run(
    seed: int = 1,
    items: int = 3000,
    minutes: float = 30.0,
    configs: list[tuple[str, CleaningConfig]] | None = None,
) -> dict[str, Any]:
    shop_cfg = ShopConfig(items=items, census_every_s=600.0)
    sim = ShopSim(shop_cfg, seed=seed)
    zmap = zone_map()
    scores = [_Score(name, Cleaner(cfg, zmap, ZONES)) for name, cfg in (configs or _configs())]
    cycles = round(minutes * 60.0 / shop_cfg.cycle_s)
    warm = int(WARMUP_S / shop_cfg.cycle_s)
    reads = 0
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("cleaning bench", total=cycles)
        for c in range(cycles):
            batches = sim.step()
            now = sim.now_ns
            reads += sum(len(b) for b in batches)
            truth = sim.true_zone
            epcs = sim.epcs
            for sc in scores:
                t0 = time.process_time()
                evs = []
                for b in batches:
                    evs += sc.cleaner.ingest(b)
                evs += sc.cleaner.tick(now)
                sc.cpu_s += time.process_time() - t0
                sc.events += len(evs)
                _score_events(sc, evs, sim, truth, now)
                if c >= warm:
                    _score_state(sc, epcs, truth, sim.gtin_index, c % COUNT_EVERY == 0)
            progress.advance(task)
    return _report(sim, scores, seed, items, minutes, reads, cycles - warm)


def _item_of(epc: bytes) -> int:
    return int.from_bytes(epc[6:12], "big") - 1  # serials are item index + 1


def _score_events(
    sc: _Score, evs: list[Any], sim: ShopSim, truth: npt.NDArray[np.int8], now: int
) -> None:
    for e in evs:
        item = _item_of(e.epc)
        in_shop = bool(truth[item] >= 0)
        if e.kind in (EventKind.SOLD, EventKind.DEPARTED):
            sc.departures += 1
            sc.false_departures += in_shop
            if e.kind == EventKind.SOLD:
                sc.sold_at.setdefault(item, []).append(now)
        elif e.kind == EventKind.MISSING:
            sc.missing_events += 1
            sc.false_missing += in_shop


def _score_state(
    sc: _Score,
    epcs: npt.NDArray[np.object_],
    truth: npt.NDArray[np.int8],
    gtin: npt.NDArray[np.int64],
    counts: bool,
) -> None:
    n = epcs.shape[0]
    if sc.ids.shape[0] < n:
        sc.ids = np.concatenate([sc.ids, np.full(n - sc.ids.shape[0], -1, np.int64)])
    unknown = np.flatnonzero(sc.ids < 0)
    if unknown.shape[0]:
        sc.ids[unknown] = sc.cleaner.lookup(epcs[unknown].tolist())
    cols = sc.cleaner.columns()
    known = sc.ids >= 0
    safe = np.where(known, sc.ids, 0)
    pred = known & (cols.status[safe] == StatusCode.PRESENT)
    pzone = np.where(pred, cols.zone[safe], -1)
    true = truth >= 0
    sc.tp += int((pred & true).sum())
    sc.fp += int((pred & ~true).sum())
    sc.fn += int((~pred & true).sum())
    sc.tn += int((~pred & ~true).sum())
    sc.zone_ok += int((pred & true & (pzone == truth)).sum())
    if counts:
        g = int(gtin.max()) + 1 if n else 1
        tc = np.bincount(gtin[true], minlength=g)
        pc = np.bincount(gtin[pred], minlength=g)
        sc.abs_count_err += int(np.abs(tc - pc).sum())
        sc.true_count += int(tc.sum())
        live = (tc > 0) | (pc > 0)
        sc.exact_gtins += int((tc[live] == pc[live]).sum())
        sc.gtin_samples += int(live.sum())


def _report(
    sim: ShopSim, scores: list[_Score], seed: int, items: int, minutes: float, reads: int, evaluated: int
) -> dict[str, Any]:
    end = sim.now_ns
    sales = [x for x in sim.exits if x.kind == ExitKind.SOLD]
    settled = [x for x in sales if x.time_ns <= end - 60 * NS]
    thefts = [x for x in sim.exits if x.kind == ExitKind.STOLEN]
    methods: dict[str, Any] = {}
    for sc in scores:
        # latency: the first sold event emitted after the item truly left
        after = {
            x.item: min((t for t in sc.sold_at.get(x.item, []) if t >= x.time_ns), default=None)
            for x in settled
        }
        lat = np.array([(t - x.time_ns) / NS for x in settled if (t := after[x.item]) is not None])
        thefts_sold = sum(1 for x in thefts if x.item in sc.sold_at)
        total = sc.tp + sc.fp + sc.fn + sc.tn
        wins = sc.cleaner.columns().window_epochs
        methods[sc.name] = {
            "presence_precision_pct": _pct(sc.tp, sc.tp + sc.fp),
            "presence_recall_pct": _pct(sc.tp, sc.tp + sc.fn),
            "presence_accuracy_pct": _pct(sc.tp + sc.tn, total),
            "presence_errors_per_1000_item_cycles": round(1000.0 * (sc.fp + sc.fn) / max(total, 1), 4),
            "zone_accuracy_pct": _pct(sc.zone_ok, sc.tp),
            "count_accuracy_pct": None
            if sc.true_count == 0
            else round(100.0 * (1.0 - sc.abs_count_err / sc.true_count), 4),
            "gtin_counts_exact_pct": _pct(sc.exact_gtins, sc.gtin_samples),
            "departure_events": sc.departures,
            "false_departures": sc.false_departures,
            "false_departure_rate_pct": _pct(sc.false_departures, sc.departures),
            "false_departures_per_item_pct": _pct(sc.false_departures, int(sim.epcs.shape[0])),
            "missing_events": sc.missing_events,
            "false_missing_events": sc.false_missing,
            "sales_detected_pct": _pct(sum(1 for v in after.values() if v is not None), len(settled)),
            "thefts_reported_as_sold": thefts_sold,
            "sold_latency_p50_s": None if lat.size == 0 else round(float(np.percentile(lat, 50)), 3),
            "sold_latency_p95_s": None if lat.size == 0 else round(float(np.percentile(lat, 95)), 3),
            "mean_window_epochs": round(float(wins.mean()), 3) if wins.size else None,
            "events": sc.events,
            "cpu_s": round(sc.cpu_s, 3),
        }
    smurf = methods["smurf"] if "smurf" in methods else next(iter(methods.values()))
    fixed = {k: m for k, m in methods.items() if k.startswith("fixed")}
    best_fixed = max(fixed.values(), key=lambda m: m["presence_accuracy_pct"] or 0.0, default=None)
    return {
        "benchmark": "cleaning",
        "seed": seed,
        "items": items,
        "minutes": minutes,
        "epoch_s": sim.config.cycle_s,
        "warmup_s": WARMUP_S,
        "evaluated_cycles": evaluated,
        "raw_reads": reads,
        "items_entered": int(sim.epcs.shape[0]),
        "true_sales": len(sales),
        "true_thefts": len(thefts),
        "zone_changes": len(sim.log),
        "methods": methods,
        "smurf_delta": RECOMMENDED_DELTA,
        "target": target_check(smurf, fixed),
        "best_fixed_accuracy_pct": None if best_fixed is None else best_fixed["presence_accuracy_pct"],
        "definitions": {
            "presence": "status present vs item truly in the shop, per item per cycle after warm-up",
            "false_departure": "a sold or departed event emitted while the item is truly still in "
            "the shop (ground truth at the cycle the event is emitted)",
            "false_departure_rate_pct": "false departures / all sold+departed events emitted "
            "(per departure event; the stricter here, since departures are far fewer than items)",
            "false_departures_per_item_pct": "false departures / items that ever entered the shop",
            "false_departure_target": "judged on the stricter (larger) of the two rates",
            "missing_event": "missing event; false when the item is truly still in the shop "
            "(includes items a 97%-complete handheld census did not find)",
            "count_accuracy": "1 - sum|predicted - true| / sum true over GTINs, sampled every "
            f"{COUNT_EVERY} cycles",
            "sold_latency": "cycle end at which the sold event was emitted - true exit time, sales "
            "settled 60 s before the end",
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bench.cleaning --seeds 1,2,3`: `run_seeds` as JSON on stdout (until the
    `shelfsight bench cleaning` command takes several seeds)."""
    import argparse
    import json
    import sys

    ap = argparse.ArgumentParser(prog="python -m bench.cleaning")
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    ap.add_argument("--items", type=int, default=3000)
    ap.add_argument("--minutes", type=float, default=30.0)
    args = ap.parse_args(argv)
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    sys.stdout.write(json.dumps(run_seeds(seeds, args.items, args.minutes), indent=2) + "\n")


if __name__ == "__main__":
    main()
