"""The catalog: product groups, products, prices, configurable options, addons, promotions,
servers and server groups (WHMCS ``tblproducts``, ``tblpricing``, ``tblproductconfig*``,
``tbladdons``, ``tblpromotions``, ``tblservers``, ``tblservergroups``).

Prices of every priced thing (products, addons, configurable option choices) live in one
table, :class:`Price`, as in WHMCS's ``tblpricing``: one row per (kind, item, currency)
with a setup fee and a price per billing cycle. A price of ``-1`` disables the cycle.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billow.db.base import Base, Timestamps
from billow.db.types import Money

ZERO = Decimal("0")
DISABLED = Decimal("-1")


class ProductGroup(Timestamps, Base):
    __tablename__ = "product_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), default="")
    headline: Mapped[str] = mapped_column(Text, default="")
    tagline: Mapped[str] = mapped_column(Text, default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    order: Mapped[int] = mapped_column(Integer, default=0)


class Product(Timestamps, Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    gid: Mapped[int] = mapped_column(ForeignKey("product_groups.id"), index=True)
    #: hostingaccount | reselleraccount | server | other
    type: Mapped[str] = mapped_column(String(20), default="other")
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    shortdescription: Mapped[str] = mapped_column(Text, default="")
    tagline: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(10), default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    showdomainoptions: Mapped[bool] = mapped_column(Boolean, default=False)
    tax: Mapped[bool] = mapped_column(Boolean, default=False)
    is_featured: Mapped[bool] = mapped_column(Boolean, default=False)
    stockcontrol: Mapped[bool] = mapped_column(Boolean, default=False)
    qty: Mapped[int] = mapped_column(Integer, default=0)
    #: free | onetime | recurring
    paytype: Mapped[str] = mapped_column(String(10), default="recurring")
    #: 0 no, 1 multiple separate services, 2 one service with a quantity (WHMCS 8.12).
    allowqty: Mapped[int] = mapped_column(Integer, default=0)
    proratabilling: Mapped[bool] = mapped_column(Boolean, default=False)
    proratadate: Mapped[int] = mapped_column(Integer, default=0)
    proratachargenextmonth: Mapped[int] = mapped_column(Integer, default=0)
    welcomeemail: Mapped[int] = mapped_column(Integer, default=0)
    subdomain: Mapped[str] = mapped_column(Text, default="")
    #: "" never, "on" when an order is accepted, "payment" on first payment, "order" at once.
    autosetup: Mapped[str] = mapped_column(String(10), default="")
    #: the server module's system name (``cpanel``, ``infrafabric``, ``none``; "" none)
    servertype: Mapped[str] = mapped_column(String(50), default="", index=True)
    servergroup: Mapped[int] = mapped_column(Integer, default=0)
    #: module settings, ``{"configoption1": ..., ...}`` as WHMCS passes them.
    module_settings: Mapped[dict] = mapped_column(JSON, default=dict)
    order: Mapped[int] = mapped_column(Integer, default=0)
    #: products this one may be upgraded/downgraded to
    upgrade_packages: Mapped[list] = mapped_column(JSON, default=list)
    configoptionsupgrade: Mapped[bool] = mapped_column(Boolean, default=False)
    recurringcycles: Mapped[int] = mapped_column(Integer, default=0)
    #: Overage billing (WHMCS product "Other" tab): usage above the soft limits is charged
    #: at the end of each month. Limits and prices are in the unit chosen per resource
    #: (MB, GB or TB; 1 GB = 1024 MB); prices are in the default currency, 4 decimals.
    overagesenabled: Mapped[bool] = mapped_column(Boolean, default=False)
    overagesdisklimit: Mapped[int] = mapped_column(Integer, default=0)
    overagesbwlimit: Mapped[int] = mapped_column(Integer, default=0)
    overagesdiskprice: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    overagesbwprice: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    overagesdiskunit: Mapped[str] = mapped_column(String(2), default="MB")
    overagesbwunit: Mapped[str] = mapped_column(String(2), default="MB")
    #: extra WHMCS fields kept as given (recommendations, on-demand renewals ...)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)


class Price(Base):
    """One priced thing in one currency (WHMCS ``tblpricing``)."""

    __tablename__ = "pricing"
    __table_args__ = (UniqueConstraint("type", "relid", "currency_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    #: product | addon | configoptions
    type: Mapped[str] = mapped_column(String(20))
    relid: Mapped[int] = mapped_column(Integer, index=True)
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id", ondelete="CASCADE"))
    msetupfee: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    qsetupfee: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    ssetupfee: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    asetupfee: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    bsetupfee: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    tsetupfee: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    monthly: Mapped[Decimal] = mapped_column(Money(), default=DISABLED)
    quarterly: Mapped[Decimal] = mapped_column(Money(), default=DISABLED)
    semiannually: Mapped[Decimal] = mapped_column(Money(), default=DISABLED)
    annually: Mapped[Decimal] = mapped_column(Money(), default=DISABLED)
    biennially: Mapped[Decimal] = mapped_column(Money(), default=DISABLED)
    triennially: Mapped[Decimal] = mapped_column(Money(), default=DISABLED)


class ConfigOptionGroup(Base):
    __tablename__ = "config_option_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")


class ProductConfigLink(Base):
    __tablename__ = "product_config_links"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("config_option_groups.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)


class ConfigOption(Base):
    """A configurable option (RAM, disk ...). Types as WHMCS numbers them."""

    __tablename__ = "config_options"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("config_option_groups.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    #: 1 dropdown, 2 radio, 3 yes/no, 4 quantity
    optiontype: Mapped[int] = mapped_column(Integer, default=1)
    qtyminimum: Mapped[int] = mapped_column(Integer, default=0)
    qtymaximum: Mapped[int] = mapped_column(Integer, default=0)
    order: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class ConfigOptionChoice(Base):
    """One choice of a configurable option; priced in :class:`Price` (type configoptions)."""

    __tablename__ = "config_option_choices"
    id: Mapped[int] = mapped_column(primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("config_options.id", ondelete="CASCADE"), index=True)
    #: WHMCS's ``value|Display name`` convention: the part before ``|`` goes to modules.
    name: Mapped[str] = mapped_column(String(200))
    sortorder: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class Addon(Timestamps, Base):
    """A product addon definition (WHMCS ``tbladdons``)."""

    __tablename__ = "addons"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: free | onetime | recurring
    billingcycle: Mapped[str] = mapped_column(String(20), default="recurring")
    tax: Mapped[bool] = mapped_column(Boolean, default=False)
    showorder: Mapped[bool] = mapped_column(Boolean, default=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    autoactivate: Mapped[str] = mapped_column(String(10), default="")
    welcomeemail: Mapped[int] = mapped_column(Integer, default=0)
    #: product ids the addon can be ordered with (empty: any)
    packages: Mapped[list] = mapped_column(JSON, default=list)
    #: the provisioning module's system name ("" keeps the addon status-only)
    module: Mapped[str] = mapped_column(String(50), default="")
    #: the addon's own module settings (WHMCS "Module Settings" tab), passed as
    #: ``configoption1``.. in place of the parent product's when the module runs for it
    module_settings: Mapped[dict] = mapped_column(JSON, default=dict)
    weight: Mapped[int] = mapped_column(Integer, default=0)


class Promotion(Timestamps, Base):
    """A promotion code (WHMCS ``tblpromotions``)."""

    __tablename__ = "promotions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    #: Percentage | Fixed Amount | Price Override | Free Setup
    type: Mapped[str] = mapped_column(String(20), default="Percentage")
    #: applies to renewals too (else first payment only)
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    #: comma-separated display cycle names the promotion applies to ("" = all)
    cycles: Mapped[str] = mapped_column(Text, default="")
    #: comma-separated product ids ("" = all)
    appliesto: Mapped[str] = mapped_column(Text, default="")
    requires: Mapped[str] = mapped_column(Text, default="")
    requiresexisting: Mapped[bool] = mapped_column(Boolean, default=False)
    startdate: Mapped[date | None] = mapped_column(Date, nullable=True)
    expirationdate: Mapped[date | None] = mapped_column(Date, nullable=True)
    maxuses: Mapped[int] = mapped_column(Integer, default=0)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    lifetimepromo: Mapped[bool] = mapped_column(Boolean, default=False)
    applyonce: Mapped[bool] = mapped_column(Boolean, default=False)
    newsignups: Mapped[bool] = mapped_column(Boolean, default=False)
    existingclient: Mapped[bool] = mapped_column(Boolean, default=False)
    onceperclient: Mapped[bool] = mapped_column(Boolean, default=False)
    #: number of recurring invoices the discount lasts for (0 = for ever)
    recurfor: Mapped[int] = mapped_column(Integer, default=0)
    upgrades: Mapped[bool] = mapped_column(Boolean, default=False)
    upgradeconfig: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class ServerGroup(Base):
    __tablename__ = "server_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: 1 = add to the least full server, 2 = fill the default server until full
    filltype: Mapped[int] = mapped_column(Integer, default=1)


class Server(Timestamps, Base):
    """A provisioning server. Password and access hash are stored encrypted (Fernet)."""

    __tablename__ = "servers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the server module's system name
    type: Mapped[str] = mapped_column(String(50), index=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    ipaddress: Mapped[str] = mapped_column(String(64), default="")
    assignedips: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(255), default="")
    password_enc: Mapped[str] = mapped_column(Text, default="")
    accesshash_enc: Mapped[str] = mapped_column(Text, default="")
    secure: Mapped[bool] = mapped_column(Boolean, default=True)
    port: Mapped[int] = mapped_column(Integer, default=0)
    maxaccounts: Mapped[int] = mapped_column(Integer, default=0)
    nameserver1: Mapped[str] = mapped_column(String(255), default="")
    nameserver2: Mapped[str] = mapped_column(String(255), default="")
    statusaddress: Mapped[str] = mapped_column(String(255), default="")
    #: the default server of its module type (WHMCS "active" server)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ServerGroupMember(Base):
    __tablename__ = "server_group_members"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("server_groups.id", ondelete="CASCADE"), primary_key=True
    )
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True)
