"""Benchmarks of the sandbox: seeding rate, read throughput and search latency, as ratios to a baseline.

Run with ``make bench`` (``.venv/bin/python bench/run.py``); ``--help`` lists the options.
"""
