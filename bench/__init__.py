"""Benchmarks, run from a checkout (not shipped): ``python -m bench.render``, ``python -m bench.events``,
``python -m bench.queue``."""
