"""Promotions (promo codes): adding, listing and finding them by code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from billow.db.models import (
    Promotion,
)
from billow.errors import ValidationError
from billow.uow import UnitOfWork

PROMO_TYPES = ("Percentage", "Fixed Amount", "Price Override", "Free Setup")

@dataclass
class PromotionInput:
    code: str
    type: str = "Percentage"
    value: Decimal = Decimal("0")
    recurring: bool = False
    recurfor: int = 0
    cycles: str = ""
    appliesto: list[int] = field(default_factory=list)
    requires: list[int] = field(default_factory=list)
    startdate: date | None = None
    expirationdate: date | None = None
    maxuses: int = 0
    onceperclient: bool = False
    newsignups: bool = False
    existingclient: bool = False
    applyonce: bool = False
    lifetimepromo: bool = False
    notes: str = ""


def add_promotion(uow: UnitOfWork, data: PromotionInput) -> Promotion:
    code = data.code.strip()
    if not code:
        raise ValidationError("You must supply a promotion code", code="promotion_code_required")
    if data.type not in PROMO_TYPES:
        raise ValidationError("Invalid promotion type", code="invalid_promotion_type")
    if uow.session.scalar(select(Promotion).where(Promotion.code == code)) is not None:
        raise ValidationError("Promotion Code already exists", code="promotion_code_in_use")
    promo = Promotion(
        code=code,
        type=data.type,
        value=data.value,
        recurring=data.recurring,
        recurfor=data.recurfor,
        cycles=data.cycles,
        appliesto=",".join(map(str, data.appliesto)),
        requires=",".join(map(str, data.requires)),
        startdate=data.startdate,
        expirationdate=data.expirationdate,
        maxuses=data.maxuses,
        onceperclient=data.onceperclient,
        newsignups=data.newsignups,
        existingclient=data.existingclient,
        applyonce=data.applyonce,
        lifetimepromo=data.lifetimepromo,
        notes=data.notes,
    )
    uow.session.add(promo)
    uow.session.flush()
    return promo


def list_promotions(uow: UnitOfWork, code: str = "") -> list[Promotion]:
    query = select(Promotion).order_by(Promotion.id)
    if code:
        query = query.where(Promotion.code == code)
    return list(uow.session.scalars(query))


def find_promotion(uow: UnitOfWork, code: str) -> Promotion | None:
    return uow.session.scalar(select(Promotion).where(Promotion.code == code.strip()))
