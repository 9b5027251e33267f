"""Support desk tables: departments, statuses, tickets, replies, notes, attachments, mail log.

Mirrors WHMCS's ``tblticketdepartments``, ``tblticketstatuses``, ``tbltickets``,
``tblticketreplies``, ``tblticketnotes``, ``tblticketpredefinedcats``/``replies``,
``tblticketspamfilters`` and ``tblticketmaillog``. Attachment bytes live on disk (see
:mod:`billow.services.support.attachment_files`); the database keeps only their metadata.
Services and domains belong to other areas, so their ids are plain indexed integers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billow import clock
from billow.db.base import Base
from billow.db.types import UTCDateTime


class SupportDepartment(Base):
    __tablename__ = "support_departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The address customers write to; inbound mail to it opens tickets here.
    email: Mapped[str] = mapped_column(String(255), default="", index=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Only registered clients may open tickets by e-mail.
    clients_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: E-mail may only reply to existing tickets, never open new ones.
    piping_replies_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Do not send the "ticket opened" auto-response for tickets opened by e-mail.
    no_autoresponder: Mapped[bool] = mapped_column(Boolean, default=False)
    feedback_request: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Default for tickets opened here: the client may not close them.
    prevent_client_closure: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # IMAP mailbox polled by the automation run (empty host: not polled).
    mail_host: Mapped[str] = mapped_column(String(255), default="")
    mail_port: Mapped[int] = mapped_column(Integer, default=993)
    mail_ssl: Mapped[bool] = mapped_column(Boolean, default=True)
    mail_login: Mapped[str] = mapped_column(String(255), default="")
    #: Fernet-encrypted (billow.security.encrypt): it must be read back to log in.
    mail_password: Mapped[str] = mapped_column(Text, default="")
    mail_folder: Mapped[str] = mapped_column(String(255), default="INBOX")


class SupportDepartmentAdmin(Base):
    """An admin assigned to a support department (WHMCS ``tbladmins.supportdepts``).

    Admin notifications about a department (``SendAdminEmail`` with ``deptid``) go to these
    admins only; a row disappears with its admin or its department.
    """

    __tablename__ = "support_department_admins"
    department_id: Mapped[int] = mapped_column(
        ForeignKey("support_departments.id", ondelete="CASCADE"), primary_key=True
    )
    admin_id: Mapped[int] = mapped_column(
        ForeignKey("admins.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TicketStatus(Base):
    __tablename__ = "ticket_statuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str] = mapped_column(String(16), default="#000000")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    #: Counted in "All Active Tickets".
    show_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Counted in "Awaiting Reply".
    show_awaiting: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Tickets in this status are closed by CloseInactiveTickets.
    auto_close: Mapped[bool] = mapped_column(Boolean, default=False)


class PredefinedReplyCategory(Base):
    __tablename__ = "ticket_predefined_categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    name: Mapped[str] = mapped_column(String(255))


class PredefinedReply(Base):
    __tablename__ = "ticket_predefined_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_predefined_categories.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    reply: Mapped[str] = mapped_column(Text, default="")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # Covers the per-status counts (GetTicketCounts, GetSupportStatuses, departments).
        Index("ix_tickets_status_dept", "status", "department_id", "merged_ticket_id"),
        Index("ix_tickets_client_date", "client_id", "date"),
        # GetTickets' order (newest activity first) over unmerged tickets, without a sort.
        Index("ix_tickets_listing", "last_reply", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public, random ticket mask (``ABC-123456``): never derived from ``id``.
    tid: Mapped[str] = mapped_column(String(20), unique=True)
    #: Random access key used in client links (WHMCS ``c``).
    c: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int] = mapped_column(ForeignKey("support_departments.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), nullable=True)
    contact_id: Mapped[int] = mapped_column(Integer, default=0)
    #: The login (``users.id``) that opened it, when a client user did.
    requestor_user_id: Mapped[int] = mapped_column(Integer, default=0)
    #: Guest name/e-mail (empty for client tickets: the client's own are used).
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="", index=True)
    cc: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    subject: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text, default="")
    markdown: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(64), default="Open")
    priority: Mapped[str] = mapped_column(String(10), default="Medium")
    #: Name of the admin who opened it (admin-opened tickets), else empty.
    admin: Mapped[str] = mapped_column(String(255), default="")
    admin_id: Mapped[int] = mapped_column(Integer, default=0)
    last_reply: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Admin id the ticket is flagged to (0: not flagged).
    flag: Mapped[int] = mapped_column(Integer, default=0, index=True)
    service_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    domain_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: None: follow the department's setting.
    prevent_client_closure: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: Set when this ticket was merged into another (it is then hidden from lists).
    #: Not indexed on its own: nearly every row holds 0, and an index would mislead SQLite's planner.
    merged_ticket_id: Mapped[int] = mapped_column(Integer, default=0)
    #: The Message-ID of the e-mail that opened it (threading and de-duplication).
    message_id: Mapped[str] = mapped_column(String(255), default="")


class TicketReply(Base):
    __tablename__ = "ticket_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(Integer, default=0)
    contact_id: Mapped[int] = mapped_column(Integer, default=0)
    requestor_user_id: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    message: Mapped[str] = mapped_column(Text, default="")
    markdown: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Replying admin's name (staff replies), else empty.
    admin: Mapped[str] = mapped_column(String(255), default="")
    admin_id: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str] = mapped_column(String(255), default="")


class TicketNote(Base):
    __tablename__ = "ticket_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    admin: Mapped[str] = mapped_column(String(255), default="")
    admin_id: Mapped[int] = mapped_column(Integer, default=0)
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    message: Mapped[str] = mapped_column(Text, default="")
    markdown: Mapped[bool] = mapped_column(Boolean, default=False)


class TicketAttachment(Base):
    """One stored file of a ticket's opening message, a reply or a note."""

    __tablename__ = "ticket_attachments"
    __table_args__ = (Index("ix_ticket_attachments_owner", "kind", "related_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    #: "ticket" | "reply" | "note" (GetTicketAttachment's ``type``)
    kind: Mapped[str] = mapped_column(String(10))
    related_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Sanitised original name shown to people.
    filename: Mapped[str] = mapped_column(String(255))
    #: Name on disk: random prefix + sanitised name (WHMCS's ``123456_name.png``).
    stored_name: Mapped[str] = mapped_column(String(300), unique=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: The file was deleted from disk (WHMCS "attachments_removed").
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class TicketBlockedSender(Base):
    """WHMCS ticket spam filter: ``sender`` (an address), ``subject`` or ``phrase``."""

    __tablename__ = "ticket_blocked_senders"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(10), default="sender")
    content: Mapped[str] = mapped_column(String(255), index=True)


class TicketMailLog(Base):
    """Every inbound e-mail and what became of it (imported, or why it was dropped)."""

    __tablename__ = "ticket_mail_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    to: Mapped[str] = mapped_column(Text, default="")
    cc: Mapped[str] = mapped_column(Text, default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(100), default="")
    message_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    ticket_id: Mapped[int] = mapped_column(Integer, default=0)
