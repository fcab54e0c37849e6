"""Benchmarks behind `shelfsight bench ...`; figures are recorded in BENCHMARKS.md."""
