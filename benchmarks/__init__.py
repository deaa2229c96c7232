"""Benchmarks of ctxbudget (run by hand; results in docs/benchmarks.md)."""
