"""Fraud checks of orders through the active fraud module (``OrderFraudCheck``)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from billow.db.models import Client, Order
from billow.errors import ValidationError
from billow.modules.fraud import fraud_class
from billow.modules.fraud.base import FraudSubject
from billow.services.hosting import module_settings
from billow.services.orders.status_changes import get_order
from billow.uow import UnitOfWork


def fraud_check(uow: UnitOfWork, order_id: int, ip_override: str = "") -> tuple[str, Any]:
    """Run the active fraud module on an order; returns (module name, result)."""
    order = get_order(uow, order_id)
    active = module_settings.active_modules(uow, "fraud")
    if not active:
        raise ValidationError("No Active Fraud Module", code="no_active_fraud_module")
    name = active[0]
    config = module_settings.settings_of(uow, "fraud", name)
    client = uow.session.get(Client, order.userid)
    ip = ip_override or order.ipaddress
    try:
        hours = int(config.get("velocity_hours") or 24)
    except ValueError:
        hours = 24
    from_ip = 0
    if ip:
        from_ip = (
            uow.session.scalar(
                select(func.count())
                .select_from(Order)
                .where(
                    Order.ipaddress == ip,
                    Order.date >= order.date - timedelta(hours=hours),
                    Order.date <= order.date,
                )
            )
            or 0
        )
    skip = [
        r for r in uow.emit("RunFraudCheck", {"orderid": order.id, "userid": order.userid}, outbox=False) if r
    ]
    subject = FraudSubject(
        order.id,
        order.userid,
        client.email if client else "",
        client.country if client else "",
        ip,
        str(order.amount),
        int(from_ip),
    )
    result = fraud_class(name)(config).check(subject)
    if skip:
        result.status, result.reasons = "Pass", ["skipped by a RunFraudCheck hook"]

    order.fraudmodule = name
    order.fraudoutput = json.dumps({"status": result.status, "reasons": result.reasons, **result.details})
    variables = {
        "orderid": order.id,
        "ordernumber": order.ordernum,
        "invoiceid": order.invoiceid,
        "amount": order.amount,
        "fraudresults": result.reasons,
        "isfraud": result.is_fraud,
        "clientdetails": {"userid": order.userid, "email": subject.email},
    }
    uow.emit("AfterFraudCheck", {**variables, "frauderror": ""}, resource_type="order", resource_id=order.id)
    uow.emit(
        "FraudCheckFailed" if result.is_fraud else "FraudCheckPassed",
        variables,
        resource_type="order",
        resource_id=order.id,
    )
    return name, result
