"""The provisioning (server) module contract: WHMCS's ``modules/servers/<name>`` in Python.

A module is a class with metadata as class constants and one method per WHMCS function.
The core functions (:meth:`ServerModule.create_account` ... :meth:`change_password`)
return a :class:`ModuleResult` instead of WHMCS's ``"success"``-or-message string: a
remote refusal is an expected outcome, not an exception. A method a module does not
define means the module does not support that function (Saleor's convention), so a
module for hand-made products only needs :meth:`create_account`.

Every method receives :class:`ModuleParams`, a mapping with WHMCS's ``$params`` keys
(``serviceid``, ``userid``, ``domain``, ``username``, ``password``, ``configoption1``..,
``configoptions``, ``customfields``, ``clientsdetails``, ``serverhostname`` ...).

Remote calls are recorded with :meth:`ServerModule.log_call` (WHMCS ``logModuleCall``);
the provisioning service writes them to the module log with every secret masked.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: WHMCS function names by the Python method that implements them.
FUNCTIONS = {
    "create_account": "CreateAccount",
    "suspend_account": "SuspendAccount",
    "unsuspend_account": "UnsuspendAccount",
    "terminate_account": "TerminateAccount",
    "change_package": "ChangePackage",
    "change_password": "ChangePassword",
    "renew": "Renew",
    "test_connection": "TestConnection",
    "usage_update": "UsageUpdate",
    "single_sign_on": "ServiceSingleSignOn",
}
#: Parameter keys whose values never reach a log.
SECRET_KEYS = frozenset(
    {
        "password",
        "serverpassword",
        "serveraccesshash",
        "accesshash",
        "rootpw",
        "token",
        "secret",
        "api_secret",
        "apisecret",
        "authorization",
        "newpassword",
        "oldpassword",
    }
)


@dataclass(frozen=True)
class ConfigField:
    """One setting in a module's product or server configuration (``_ConfigOptions``)."""

    name: str
    #: text | password | yesno | dropdown | radio | textarea
    type: str = "text"
    default: str = ""
    description: str = ""
    options: tuple[str, ...] = ()
    size: int = 25


@dataclass
class ModuleResult:
    """What a module function returns: success, or WHMCS's human-readable error.

    ``data`` carries what the service should store: ``username``, ``password``,
    ``dedicatedip``, ``assignedips``, ``module_data`` (the module's own keys, e.g. the
    remote instance id), ``url`` for single sign-on and console actions.
    """

    success: bool
    error: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, **data: Any) -> ModuleResult:
        return cls(True, "", data)

    @classmethod
    def failed(cls, error: str, **data: Any) -> ModuleResult:
        return cls(False, error or "An unknown error occurred", data)


@dataclass(frozen=True)
class UsageRecord:
    """Disk and bandwidth figures (MB) of one account, from :meth:`ServerModule.usage_update`."""

    username: str
    diskusage: int
    disklimit: int
    bwusage: int
    bwlimit: int


@dataclass
class ModuleCall:
    action: str
    request: Any
    response: Any
    error: str = ""


class ModuleParams(dict[str, Any]):
    """WHMCS's ``$params``: a plain dict, with typed readers for module code."""

    def text(self, key: str, default: str = "") -> str:
        value = self.get(key)
        return default if value is None else str(value)

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if isinstance(value, bool):
            return value
        return str(value or "").strip().lower() in {"1", "on", "yes", "true"}

    def option(self, name: str, default: str = "") -> str:
        """A configurable option's value by its name (``configoptions[name]``)."""
        options = self.get("configoptions") or {}
        value = options.get(name) if isinstance(options, Mapping) else None
        return default if value in (None, "") else str(value)


class ServerModule(ABC):
    """Base of every provisioning module; subclasses set the constants and define functions."""

    #: system name (``cpanel``): products and servers refer to the module by it
    name: ClassVar[str]
    display_name: ClassVar[str]
    api_version: ClassVar[str] = "1.1"
    requires_server: ClassVar[bool] = True
    default_port: ClassVar[int] = 0
    default_ssl_port: ClassVar[int] = 0
    #: product settings, passed as configoption1..N in this order
    product_config: ClassVar[tuple[ConfigField, ...]] = ()
    #: admin buttons: label -> method name callable through ``ModuleCustom``
    custom_buttons: ClassVar[dict[str, str]] = {}
    sso_label: ClassVar[str] = ""

    def __init__(self) -> None:
        self.calls: list[ModuleCall] = []

    @abstractmethod
    def create_account(self, params: ModuleParams) -> ModuleResult:
        """Provision the account/instance described by *params*."""

    def log_call(self, action: str, request: Any, response: Any, error: str = "") -> None:
        """Record one exchange with the remote API (WHMCS ``logModuleCall``)."""
        self.calls.append(ModuleCall(action, request, response, error))

    @classmethod
    def supports(cls, method: str) -> bool:
        """True when the module defines *method* (an undefined function is unsupported)."""
        if method == "create_account":
            return True
        return any(method in vars(k) for k in cls.__mro__ if k not in (ServerModule, ABC, object))

    @classmethod
    def custom_functions(cls) -> dict[str, str]:
        """Custom function names (as ``ModuleCustom`` sends them) -> method names."""
        return {method: method for method in cls.custom_buttons.values()}

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        """WHMCS ``_MetaData()``."""
        return {
            "DisplayName": cls.display_name,
            "APIVersion": cls.api_version,
            "RequiresServer": cls.requires_server,
            "DefaultNonSSLPort": str(cls.default_port or ""),
            "DefaultSSLPort": str(cls.default_ssl_port or ""),
            "ServiceSingleSignOnLabel": cls.sso_label,
        }


def mask(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Replace secret values (by key, and any of *secrets* found in text) with asterisks."""
    if isinstance(value, Mapping):
        return {
            k: ("********" if str(k).lower() in SECRET_KEYS and v else mask(v, secrets))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret and len(secret) >= 4:
                value = value.replace(secret, "********")
        return value
    return value
