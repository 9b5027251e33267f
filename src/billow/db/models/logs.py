"""The API log and the Activity Log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billow import clock
from billow.db.base import Base
from billow.db.types import UTCDateTime


class ApiLog(Base):
    """One API request. Secrets and passwords are never written here."""

    __tablename__ = "api_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    action: Mapped[str] = mapped_column(String(100), default="")
    identifier: Mapped[str] = mapped_column(String(255), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    result: Mapped[str] = mapped_column(String(10), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    http_status: Mapped[int] = mapped_column(Integer, default=200)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class ActivityLog(Base):
    """WHMCS ``tblactivitylog``: what happened, by whom, to which client."""

    __tablename__ = "activity_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    description: Mapped[str] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(255), default="System")
    userid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    user_id: Mapped[int] = mapped_column(Integer, default=0)
    admin_id: Mapped[int] = mapped_column(Integer, default=0)
    ipaddr: Mapped[str] = mapped_column(String(64), default="")
