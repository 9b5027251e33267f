"""Demo data and first-run access for ``billow demo`` and ``make run``.

Idempotent whatever the state: every record is looked up by a natural key first, so
running it again adds nothing, and a demo client deleted since is added again (owned by
the user login with its e-mail, which outlives the client). The quickstart credential's
secret is shown once and saved to a file readable only by its owner, because the
database keeps only a digest of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from billow import security
from billow.config import get_settings
from billow.db.models import Admin, ApiCredential, ClientGroup, Contact, Currency
from billow.files import private_dir, private_file
from billow.services.access import admins, credentials, ip_allow_list
from billow.services.clients.accounts import ClientInput, add_client, find_client_by_email
from billow.services.clients.contacts import add_contact
from billow.services.clients.users import find_user_by_email
from billow.uow import UnitOfWork

CURRENCIES = (
    # code, prefix, suffix, format, rate, default
    ("USD", "$", " USD", 1, Decimal("1"), True),
    ("EUR", "€", " EUR", 3, Decimal("0.92000"), False),
    ("GBP", "£", " GBP", 2, Decimal("0.79000"), False),
)
GROUPS = (
    ("Resellers", "#28C99B", Decimal("10.00"), False, True),
    ("VIP", "#FFD700", Decimal("5.00"), True, False),
)
CLIENTS = (
    # first, last, company, email, address, city, state, postcode, country, phone, group
    ("Ada", "Lovelace", "Analytical Hosting Ltd", "ada@example.com", "12 Engine Row",
     "London", "Greater London", "N1 9GU", "GB", "+44 20 7946 0958", "Resellers"),
    ("Grace", "Hopper", "", "grace@example.org", "1 Compiler Way", "Arlington", "Virginia",
     "22201", "US", "+1 703 555 0142", ""),
    ("Linus", "Pauling", "Pauling Labs", "linus@example.net", "3 Bond Street", "Portland",
     "Oregon", "97201", "US", "+1 503 555 0199", "VIP"),
    ("Marie", "Curie", "", "marie@example.fr", "11 Rue Pierre et Marie Curie", "Paris",
     "Ile-de-France", "75005", "FR", "+33 1 44 27 00 00", ""),
)
CONTACTS = (
    ("ada@example.com", "Charles", "Babbage", "charles@example.com", {"invoice": True}),
    ("linus@example.net", "Ava", "Pauling", "billing@pauling.example.net", {"support": False}),
)
QUICKSTART_ADMIN = "admin"
CREDENTIALS_FILE = "quickstart-credentials.json"


@dataclass
class QuickstartAccess:
    admin_username: str
    admin_password: str
    identifier: str
    secret: str
    saved_to: Path


def load_demo(uow: UnitOfWork) -> int:
    """Create the demo records that do not exist yet; return how many were created."""
    created = 0
    session = uow.session
    for code, prefix, suffix, fmt_code, rate, default in CURRENCIES:
        if session.scalar(select(Currency).where(Currency.code == code)) is None:
            has_default = session.scalar(select(Currency).where(Currency.is_default.is_(True)))
            session.add(Currency(code=code, prefix=prefix, suffix=suffix, format=fmt_code,
                                 rate=rate, is_default=default and has_default is None))
            created += 1
    session.flush()
    group_ids: dict[str, int] = {}
    for name, colour, discount, exempt, separate in GROUPS:
        group = session.scalar(select(ClientGroup).where(ClientGroup.groupname == name))
        if group is None:
            group = ClientGroup(groupname=name, groupcolour=colour, discountpercent=discount,
                                susptermexempt=exempt, separateinvoices=separate)
            session.add(group)
            session.flush()
            created += 1
        group_ids[name] = group.id
    for (first, last, company, email, address, city, state, postcode, country, phone,
         group) in CLIENTS:
        if find_client_by_email(uow, email) is not None:
            continue
        values = {
            "firstname": first, "lastname": last, "companyname": company, "email": email,
            "address1": address, "city": city, "state": state, "postcode": postcode,
            "country": country, "phonenumber": phone, "groupid": group_ids.get(group, 0),
        }
        # A user with this e-mail outlives a deleted demo client: it owns the new one.
        user = find_user_by_email(uow, email)
        add_client(uow, ClientInput(values=values), owner_user_id=user.id if user else None)
        created += 1
    for client_email, first, last, email, prefs in CONTACTS:
        client = find_client_by_email(uow, client_email)
        exists = session.scalar(select(Contact).where(Contact.email == email))
        if client is not None and exists is None:
            add_contact(uow, client.id, {"firstname": first, "lastname": last, "email": email},
                        prefs)
            created += 1
    return created


def ensure_quickstart_access(uow: UnitOfWork) -> QuickstartAccess:
    """Make sure an admin, a credential and a localhost allow-list entry exist.

    Returns the new password/secret only when they were created in this call; otherwise
    they are read back from the credentials file written the first time.
    """
    settings = get_settings()
    saved_to = settings.data_dir / CREDENTIALS_FILE
    saved: dict[str, str] = {}
    if saved_to.exists():
        saved = json.loads(saved_to.read_text())
    for network, note in (("127.0.0.1/32", "localhost (quickstart)"),
                          ("::1/128", "localhost IPv6 (quickstart)")):
        ip_allow_list.add_allowed_ip(uow, network, note=note)
    admin = uow.session.scalar(select(Admin).where(Admin.username == QUICKSTART_ADMIN))
    password = ""
    if admin is None:
        password = security.new_token(12)
        admins.create_admin(uow, QUICKSTART_ADMIN, password, email="admin@example.com")
    identifier = saved.get("identifier", "")
    credential = uow.session.scalar(
        select(ApiCredential).where(ApiCredential.identifier == identifier)
    ) if identifier else None
    secret = ""
    if credential is None or credential.revoked_at is not None or not saved.get("secret"):
        new = credentials.create_credential(uow, QUICKSTART_ADMIN, description="quickstart")
        identifier, secret = new.identifier, new.secret
        saved = {"identifier": identifier, "secret": secret,
                 "admin_username": QUICKSTART_ADMIN}
        if password:
            saved["admin_password"] = password
        elif "admin_password" in saved:
            saved.pop("admin_password")
        private_dir(saved_to.parent)
        private_file(saved_to).write_text(json.dumps(saved, indent=2))  # 0600 before written
    return QuickstartAccess(
        admin_username=QUICKSTART_ADMIN,
        admin_password=password or saved.get("admin_password", ""),
        identifier=identifier,
        secret=secret or saved.get("secret", ""),
        saved_to=saved_to,
    )
