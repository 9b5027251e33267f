"""Fixtures of the hosting tests: the local protocol servers."""

from protocol_servers import fabric, whm  # noqa: F401
