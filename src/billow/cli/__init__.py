"""The ``billow`` command: a stable contract that scripts and other tools call.

``billow.cli:app`` is the console-script entry point; :mod:`billow.cli.main` assembles it
from one module per sub-command group, and :mod:`billow.cli.common` holds the one helper
that runs a service call and reports a :class:`~billow.errors.BillowError`.
"""

from billow.cli.main import app

__all__ = ["app"]
