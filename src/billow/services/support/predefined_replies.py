"""Predefined replies and their categories (the staff's canned answers)."""

from __future__ import annotations

from sqlalchemy import func, select

from billow.db.models import (
    PredefinedReply,
    PredefinedReplyCategory,
)
from billow.errors import NotFound, ValidationError
from billow.uow import UnitOfWork


def add_predefined_category(uow: UnitOfWork, name: str, parent_id: int = 0) -> PredefinedReplyCategory:
    if not name.strip():
        raise ValidationError("Category name is required", code="category_name_required")
    cat = PredefinedReplyCategory(name=name.strip(), parent_id=parent_id)
    uow.session.add(cat)
    uow.session.flush()
    return cat


def add_predefined_reply(uow: UnitOfWork, category_id: int, name: str, reply: str) -> PredefinedReply:
    if uow.session.get(PredefinedReplyCategory, category_id) is None:
        raise NotFound("Category ID Not Found", code="category_not_found")
    row = PredefinedReply(category_id=category_id, name=name.strip(), reply=reply)
    uow.session.add(row)
    uow.session.flush()
    return row


def list_predefined_categories(uow: UnitOfWork) -> list[tuple[PredefinedReplyCategory, int]]:
    counts = dict(
        uow.session.execute(
            select(PredefinedReply.category_id, func.count()).group_by(PredefinedReply.category_id)
        ).all()
    )
    cats = uow.session.scalars(select(PredefinedReplyCategory).order_by(PredefinedReplyCategory.name))
    return [(c, int(counts.get(c.id, 0))) for c in cats]


def list_predefined_replies(uow: UnitOfWork, category_id: int = 0) -> list[PredefinedReply]:
    query = select(PredefinedReply).order_by(PredefinedReply.name, PredefinedReply.id)
    if category_id:
        query = query.where(PredefinedReply.category_id == category_id)
    return list(uow.session.scalars(query))
