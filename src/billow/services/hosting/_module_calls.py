"""Module calls that wait for their caller's commit (the payment → provisioning edge).

Every module call is made with no transaction or writer lock held
(:func:`billow.services.hosting._exchange.exchange` commits the intent, calls the panel,
and records the outcome in a new transaction). A caller that runs inside a savepoint, such
as the paid step of a payment, cannot commit half-way; it asks for the call here instead,
and the call runs once the caller's unit of work committed (:meth:`UnitOfWork.defer`),
before the entry point answers. So ``AddInvoicePayment`` records the payment first, and a
payment whose provisioning fails stays recorded, with the failure in the module queue.

The deferred call re-reads its target and goes ahead only if the target is still in one
of the statuses the caller saw (*when*): a rolled-back step or a concurrent change wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from billow.db.models import Service, ServiceAddon
from billow.errors import BillowError
from billow.services.activity import log_activity
from billow.services.hosting import addon_provisioning, provisioning
from billow.services.hosting._exchange import ACTIONS
from billow.uow import UnitOfWork

log = logging.getLogger("billow.provisioning")


def after_commit(uow: UnitOfWork, service_id: int, key: str, *, when: tuple[str, ...]) -> None:
    """Run module action *key* for the service after *uow* commits, if its status is in *when*."""
    _defer(uow, Service, service_id, "Service", key, when,
           lambda later, service: provisioning.run(later, service, key))


def addon_after_commit(uow: UnitOfWork, addon_id: int, key: str, *, when: tuple[str, ...]) -> None:
    """Move client addon *addon_id* through *key* after *uow* commits, if its status is in *when*."""
    _defer(uow, ServiceAddon, addon_id, "Addon", key, when,
           lambda later, row: addon_provisioning.change(later, row, key))


def _defer(
    uow: UnitOfWork, model: type[Service] | type[ServiceAddon], row_id: int, label: str, key: str,
    when: tuple[str, ...], act: Callable[[UnitOfWork, Any], object],
) -> None:
    """Queue *act* on the row after the commit; a refusal is logged, never raised at the caller."""

    def call(later: UnitOfWork) -> None:
        row = later.session.get(model, row_id)
        if row is None or row.status not in when:
            return
        try:
            act(later, row)
        except BillowError as exc:
            later.rollback()
            log.warning("module %s for %s %s refused: %s", key, label.lower(), row_id, exc.message)
            log_activity(later, f"Module {ACTIONS[key].label} Failed - {label} ID: {row_id}"
                         f" - Error: {exc.message}", client_id=row.userid)

    uow.defer(call)
