"""`shelfsight demo` end to end: URLs printed, gateways' reads on the API's /metrics, the
dashboard page served, and a clean stop by itself after --minutes (exit 0)."""

from __future__ import annotations

import time

from demo_support import DemoRun, demo_run, finish, shops_with_reads

__all__ = ["demo_run"]


def test_demo_runs_end_to_end_and_stops_cleanly(demo_run: DemoRun) -> None:
    run = demo_run
    assert run.base, f"no dashboard URL printed:\n{run.output()}"
    assert run.key.startswith("ssk_")
    out = run.output()
    assert f"{run.base}/metrics" in out
    assert "MQTT broker" in out and "PostgreSQL" in out

    # during the run: one scrape of the API carried every shop's gateway counters
    assert run.metrics_with_reads is not None, "no shelfsight_reads_ingested_total on /metrics"
    shops = shops_with_reads(run.metrics_with_reads)
    assert shops == {"shop-soho", "shop-camden", "shop-greenwich"}
    assert "shelfsight_allocations" in run.metrics_with_reads  # the API's own metrics too
    assert run.page_status == 200
    assert "<title>shelfsight" in run.page_body and "/dashboard/app.js" in run.page_body

    code = finish(run)
    time.sleep(0.2)  # let the reader thread take the last lines
    final = run.output()
    assert code == 0, final
    assert "demo stopped cleanly" in final
    assert "orders:" in final
