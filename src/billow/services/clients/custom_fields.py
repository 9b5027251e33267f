"""Custom fields of clients and products: their definitions, checking given values against
them (unknown ids, the field's pattern, required fields) and storing the values.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from billow.db.models import (
    CustomField,
    CustomFieldValue,
)
from billow.errors import ValidationError
from billow.uow import UnitOfWork

_FIELD_DEFS = (select(CustomField)
               .where(CustomField.type == bindparam("kind"), CustomField.relid == bindparam("relid"))
               .order_by(CustomField.sortorder, CustomField.id))


def custom_field_defs(uow: UnitOfWork, kind: str, relid: int = 0) -> list[CustomField]:
    return list(uow.session.scalars(_FIELD_DEFS, {"kind": kind, "relid": relid}))


def check_custom_fields(uow: UnitOfWork, values: dict[str, str], *, required: bool,
                         kind: str = "client", relid: int = 0) -> None:
    import re

    defs = {str(d.id): d for d in custom_field_defs(uow, kind, relid)}
    for key, value in values.items():
        definition = defs.get(str(key))
        if definition is None:
            raise ValidationError(f"Invalid custom field id {key}", code="custom_field_not_found")
        if definition.regexpr and value and not re.fullmatch(definition.regexpr.strip("/"), str(value)):
            raise ValidationError(
                f"The value for {definition.fieldname} is not valid", code="invalid_custom_field_value"
            )
    if required:
        for definition in defs.values():
            if definition.required and not definition.adminonly and not str(
                values.get(str(definition.id), "")
            ).strip():
                raise ValidationError(
                    f"You did not provide required custom field value for {definition.fieldname}",
                    code="custom_field_required",
                )


def save_custom_fields(uow: UnitOfWork, kind: str, relid: int, values: dict[str, str]) -> None:
    for key, value in values.items():
        field_id = int(key)
        row = uow.session.scalar(select(CustomFieldValue).where(
            CustomFieldValue.field_id == field_id, CustomFieldValue.relid == relid
        ))
        if row is None:
            uow.session.add(CustomFieldValue(field_id=field_id, relid=relid, value=str(value)))
        else:
            row.value = str(value)


def custom_field_values(
    uow: UnitOfWork, kind: str, relid: int, defs_relid: int = 0
) -> list[tuple[CustomField, str]]:
    defs = custom_field_defs(uow, kind, defs_relid)
    if not defs:
        return []
    values = {
        v.field_id: v.value
        for v in uow.session.scalars(select(CustomFieldValue).where(
            CustomFieldValue.relid == relid,
            CustomFieldValue.field_id.in_([d.id for d in defs]),
        ))
    }
    return [(d, values.get(d.id, "")) for d in defs]
