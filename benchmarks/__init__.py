"""Benchmarks: speed and memory targets, measured on demand and written to `benchmarks/results/`.

Never part of the timed test suite; the tests run each benchmark once at a tiny size only to
prove it still works.
"""
