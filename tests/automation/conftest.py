"""Automation fixtures: the local protocol servers of the built-in modules."""

from protocol_servers import fabric  # noqa: F401
