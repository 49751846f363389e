"""Helpers for the operations-bundle tests (tests/test_ops_*.py)."""
