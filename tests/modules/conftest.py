"""Fixtures of the module protocol tests: the local WHM and InfraFabric servers."""

from protocol_servers import fabric, whm  # noqa: F401
from stripe_server import stripe_server  # noqa: F401, E402
