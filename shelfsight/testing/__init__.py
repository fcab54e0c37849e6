"""Reusable test harness (tests and benchmarks import it): servers, proxy, helpers."""
