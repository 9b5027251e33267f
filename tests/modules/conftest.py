"""Fixtures of the module protocol tests: the local WHM and InfraFabric servers."""

from protocol_servers import fabric, whm  # noqa: F401
