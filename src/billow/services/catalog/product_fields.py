"""Custom fields of products (the fields an order asks for)."""

from __future__ import annotations

from sqlalchemy import select

from billow.db.models import (
    CustomField,
)
from billow.services.catalog.products import get_product
from billow.uow import UnitOfWork


def add_product_field(
    uow: UnitOfWork,
    pid: int,
    name: str,
    *,
    fieldtype: str = "text",
    description: str = "",
    required: bool = False,
    showorder: bool = True,
    adminonly: bool = False,
    fieldoptions: str = "",
    regexpr: str = "",
) -> CustomField:
    get_product(uow, pid)
    definition = CustomField(
        type="product",
        relid=pid,
        fieldname=name,
        fieldtype=fieldtype,
        description=description,
        required=required,
        showorder=showorder,
        adminonly=adminonly,
        fieldoptions=fieldoptions,
        regexpr=regexpr,
    )
    uow.session.add(definition)
    uow.session.flush()
    return definition


def product_fields(uow: UnitOfWork, pid: int) -> list[CustomField]:
    return list(
        uow.session.scalars(
            select(CustomField)
            .where(CustomField.type == "product", CustomField.relid == pid)
            .order_by(CustomField.sortorder, CustomField.id)
        )
    )
