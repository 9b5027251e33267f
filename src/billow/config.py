"""Settings of an installation, read once from ``BILLOW_*`` environment variables.

Everything a deployment can change lives here so that no module reads the environment
itself. Business settings that WHMCS keeps in ``tblconfiguration`` (``AutoSuspension``,
``CreateInvoiceDaysBefore`` ...) are not here: they live in the database
(:mod:`billow.services.settings`) so the API can read and write them.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BILLOW_", env_file=".env", extra="ignore")

    #: Where mutable state lives for the embedded set-up (database, key, attachments).
    data_dir: Path = Path("var")
    #: Any SQLAlchemy URL; empty means the embedded SQLite file in ``data_dir``.
    database_url: str = ""
    #: Server-side key for keyed digests of API secrets and for encrypting stored
    #: credentials. Empty: generated once and kept in ``data_dir/secret.key``.
    secret_key: str = ""
    #: WHMCS ``$api_access_key``: a request carrying it skips the IP allow-list.
    api_access_key: str = ""
    #: Restrict the API to the allow-list (WHMCS default). Off only for local development.
    api_ip_restriction: bool = True
    #: Addresses (IPs or CIDRs) of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: Largest request body accepted (bytes), counted while it streams in; a larger one is
    #: answered 413. 0: 2 MiB plus room for one ticket attachment of
    #: ``attachment_max_bytes`` sent base64-encoded (OpenTicket/AddTicketReply).
    max_body_bytes: int = 0
    #: Refuse API credentials (identifier/secret, username/password, accesskey) sent in a
    #: GET query string, where they end up in URLs, proxies' and browsers' logs. Off by
    #: default: WHMCS accepts them there, and some clients rely on it.
    api_refuse_query_credentials: bool = False
    #: Failed logins from one address within the window before it is locked out.
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    login_lockout_seconds: int = 900
    #: Folder of hook files (``*.py``) loaded at start.
    hooks_dir: Path = Path("hooks")
    #: Billing time zone: the zone in which "today" is a billing date.
    timezone: str = "UTC"
    #: Installation name shown in e-mails and invoices.
    company_name: str = "Billow Hosting"
    system_url: str = "http://127.0.0.1:8000/"
    #: Outgoing mail (the ``SMTP*`` keys of the settings table override these).
    smtp_host: str = ""
    smtp_port: int = 25
    #: ``none``, ``starttls`` or ``ssl`` (implicit TLS, usually port 465).
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_timeout_seconds: float = 20.0
    #: PEM file of extra CA certificates to trust for SMTP TLS (a private mail relay).
    smtp_ca_file: str = ""
    #: Webhook delivery: per-request timeout, response bytes read, and SSRF guard.
    webhook_timeout_seconds: float = 10.0
    webhook_max_response_bytes: int = 65536
    #: Allow endpoints on loopback/private/link-local addresses (off: SSRF protection).
    webhook_allow_private: bool = False
    #: Failed deliveries in a row (each after its full retry schedule) that disable an endpoint.
    webhook_disable_after: int = 3
    #: Concurrent HTTP deliveries of one worker.
    webhook_concurrency: int = 8
    #: Seconds a worker holds a claimed delivery or e-mail before another may retry it.
    worker_lease_seconds: int = 120
    #: Run the outbox worker inside ``billow serve`` (the embedded single-machine set-up).
    worker_in_process: bool = False
    #: Seconds a provisioning module waits for its panel or cloud API per request.
    module_timeout_seconds: float = 30.0
    #: The daily exchange-rate feed (ECB reference-rates XML) the currency task reads.
    exchange_rates_url: str = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
    #: Seconds to wait for the exchange-rate feed.
    exchange_rates_timeout_seconds: float = 20.0
    #: Folder of ticket attachments, outside the database; empty: ``data_dir/attachments``.
    attachments_dir: Path | None = None
    #: Largest ticket attachment accepted (bytes), over the API and by e-mail.
    attachment_max_bytes: int = 10 * 1024 * 1024
    #: Largest raw inbound support e-mail accepted (bytes).
    support_mail_max_bytes: int = 25 * 1024 * 1024
    #: Failed logins from one address, over every username, before the address is locked
    #: out (``login_max_failures`` counts one username from one address).
    login_max_failures_per_ip: int = 20

    def resolved_max_body_bytes(self) -> int:
        if self.max_body_bytes > 0:
            return self.max_body_bytes
        return 2 * 1024 * 1024 + -(-self.attachment_max_bytes * 4 // 3)

    def resolved_attachments_dir(self) -> Path:
        return self.attachments_dir or (self.data_dir / "attachments")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'billow.db').as_posix()}"

    def resolved_secret_key(self) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        return _key_file(self.data_dir.absolute())


@lru_cache(maxsize=4)
def _key_file(data_dir: Path) -> bytes:
    """Read (creating it once) the generated server key: every API request needs it."""
    path = data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between runs)."""
    get_settings.cache_clear()
    _key_file.cache_clear()
