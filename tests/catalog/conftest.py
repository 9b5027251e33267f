"""Fixtures of the catalog tests (helpers live in catalog_helpers.py)."""
