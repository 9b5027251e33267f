"""Fixtures of the order tests: the local protocol servers (helpers: tests/catalog_helpers.py)."""

from protocol_servers import fabric, whm  # noqa: F401
