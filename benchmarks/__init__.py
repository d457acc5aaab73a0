"""Suites, budgets, the runner and the CLI. Only ``benchmarks.rllib`` imports Ray."""
