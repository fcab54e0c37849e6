"""`bench api-growth` on a tiny load: consecutive windows, reservations only accumulate, the
running totals still match the rows at the end."""

from __future__ import annotations

from bench.api_growth import run


def test_windows_accumulate_reservations_and_the_totals_match() -> None:
    out = run(windows=2, seconds=0.5, connections=4)
    first, last = out["windows"]
    assert first["rps"] > 0 and last["rps"] > 0
    assert 0 < first["open_reservations"] < last["open_reservations"]
    assert set(first["statuses"]) <= {"201", "409"}
    assert out["totals_drift"] == 0
    assert set(out["growth"]) == {"postgres_cpu_ms", "api_cpu_ms", "rps"}
