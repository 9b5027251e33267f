"""What an action handler gets besides its parameters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from billow.db.models import ApiCredential
from billow.uow import UnitOfWork


@dataclass
class Context:
    uow: UnitOfWork
    action: str
    ip: str
    credential: ApiCredential | None = None

    @property
    def session(self) -> Session:
        return self.uow.session
