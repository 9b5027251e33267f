"""SMTP: the mail server settings and the :class:`Mailer` that talks to it."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage

from billow.config import get_settings
from billow.errors import ValidationError
from billow.services.settings import get_setting
from billow.uow import UnitOfWork


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: str
    user: str
    password: str
    from_address: str
    from_name: str
    timeout: float
    ca_file: str = ""

    def tls_context(self) -> ssl.SSLContext:
        """Verify the server's certificate (against the system CAs, or *ca_file* as well)."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


def smtp_settings(uow: UnitOfWork) -> SmtpSettings:
    """SMTP settings: the settings table (WHMCS ``SMTP*`` keys) over ``BILLOW_SMTP_*``."""
    cfg = get_settings()

    def pick(key: str, default: str) -> str:
        value = get_setting(uow, key)
        return value if value != "" else default

    tls = pick("SMTPSSL", cfg.smtp_tls).lower()
    tls = {"": "none", "tls": "starttls", "ssl": "ssl"}.get(tls, tls)
    if tls not in ("none", "starttls", "ssl"):
        raise ValidationError("SMTPSSL must be none, starttls (tls) or ssl", code="invalid_smtp_ssl")
    from_address = pick("SystemEmailsFromEmail", cfg.smtp_from) or get_setting(uow, "Email")
    return SmtpSettings(
        host=pick("SMTPHost", cfg.smtp_host), port=int(pick("SMTPPort", str(cfg.smtp_port))),
        tls=tls, user=pick("SMTPUsername", cfg.smtp_user),
        password=pick("SMTPPassword", cfg.smtp_password), from_address=from_address,
        from_name=pick("SystemEmailsFromName", get_setting(uow, "CompanyName")),
        timeout=cfg.smtp_timeout_seconds, ca_file=cfg.smtp_ca_file,
    )


class Mailer:
    """One SMTP connection reused for a batch; reconnects when the server drops it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if not s.host:
            raise smtplib.SMTPException("SMTP is not configured (no host)")
        if s.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                  context=s.tls_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.tls == "starttls":
                smtp.starttls(context=s.tls_context())
        if s.user:
            smtp.login(s.user, s.password)
        return smtp

    def send(self, mime: MimeMessage, recipients: list[str]) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(mime, to_addrs=recipients)
        except smtplib.SMTPServerDisconnected:
            self._smtp = self._connect()
            self._smtp.send_message(mime, to_addrs=recipients)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
