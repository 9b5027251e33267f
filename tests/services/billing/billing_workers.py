"""Code run in separate processes by the concurrency tests (importable by ``spawn``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def pay_worker(tasks: list[tuple[int, str, str | None]], barrier: Any, results: Any) -> None:
    """For each (invoice id, transid, amount): wait for the other process, then pay."""
    from billow.bootstrap import wire
    from billow.config import reset_settings
    from billow.db.engine import session_factory
    from billow.errors import BillowError
    from billow.services.billing import payments
    from billow.uow import UnitOfWork

    reset_settings()
    wire()  # a spawned process is an entry point of its own
    factory = session_factory()
    for invoice_id, transid, amount in tasks:
        barrier.wait(timeout=60)
        with UnitOfWork(factory) as uow:
            try:
                payments.add_payment(uow, invoice_id, transid=transid, gateway="banktransfer",
                                     amount=Decimal(amount) if amount else None, noemail=True)
                uow.commit()
                results.put((invoice_id, "ok"))
            except BillowError as exc:
                results.put((invoice_id, exc.message))
