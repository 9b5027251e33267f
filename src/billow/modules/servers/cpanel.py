"""``cpanel``: cPanel & WHM through WHM API 1 with an API token.

Every call is ``GET {scheme}://{host}:{port}/json-api/{function}?api.version=1&...`` with the
header ``Authorization: whm {username}:{token}``. WHM answers with the envelope
``{"metadata": {"result": 1|0, "reason": "...", "command": "...", "version": 1},
"data": {...}}``; ``result`` 0 is a refusal whose ``reason`` is the error shown to the
admin. Non-JSON answers, HTTP errors and timeouts become readable failures too.

Functions used: ``createacct``, ``suspendacct``, ``unsuspendacct``, ``removeacct``,
``changepackage``, ``passwd``, ``listpkgs`` and ``version`` (test connection),
``create_user_session`` (single sign-on), ``listaccts`` and ``showbw`` (usage update).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from billow.modules.servers._http import describe_transport_error, module_timeout, send
from billow.modules.servers.base import (
    ConfigField,
    ModuleParams,
    ModuleResult,
    ServerModule,
    UsageRecord,
)

#: Read-only WHM functions: safe to retry.
IDEMPOTENT = frozenset({"version", "listpkgs", "listaccts", "showbw", "accountsummary"})


class WhmError(Exception):
    """A WHM call that did not succeed; the message is what the admin sees."""


class CpanelModule(ServerModule):
    name = "cpanel"
    display_name = "cPanel"
    default_port = 2086
    default_ssl_port = 2087
    sso_label = "Log in to cPanel"
    product_config = (
        ConfigField("WHM Package Name", "text", description="The package (plan) on the WHM server"),
        ConfigField("Dedicated IP", "yesno", description="Give the account a dedicated IP address"),
    )
    custom_buttons = {"Log in to WHM session": "create_session"}

    def __init__(self, *, timeout: float | None = None, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__()
        self.timeout = timeout if timeout is not None else module_timeout()
        self.transport = transport

    # -- the protocol -------------------------------------------------------------------
    def _base_url(self, params: ModuleParams) -> str:
        secure = params.flag("serversecure")
        host = params.text("serverhostname") or params.text("serverip")
        port = params.get("serverport") or (self.default_ssl_port if secure else self.default_port)
        return f"{'https' if secure else 'http'}://{host}:{port}"

    def call(self, params: ModuleParams, function: str, **args: Any) -> dict[str, Any]:
        """Call WHM *function*; return its ``data`` or raise :class:`WhmError`."""
        query = {"api.version": "1", **{k: v for k, v in args.items() if v is not None}}
        token = params.text("serveraccesshash").strip() or params.text("serverpassword")
        headers = {"Authorization": f"whm {params.text('serverusername') or 'root'}:{token}"}
        url = f"{self._base_url(params)}/json-api/{function}"
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = send(
                    client, "GET", url, idempotent=function in IDEMPOTENT, params=query, headers=headers
                )
        except httpx.HTTPError as exc:
            error = describe_transport_error(exc)
            self.log_call(function, query, "", error)
            raise WhmError(error) from exc
        body = response.text
        try:
            decoded = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            decoded = None
        if response.status_code in (401, 403):
            error = "Login failed: the WHM API token or username was refused"
            self.log_call(function, query, body[:2000], error)
            raise WhmError(error)
        if not isinstance(decoded, dict) or not isinstance(decoded.get("metadata"), dict):
            error = (
                f"Invalid response from WHM (HTTP {response.status_code}): "
                f"{body[:200].strip() or 'empty body'}"
            )
            self.log_call(function, query, body[:2000], error)
            raise WhmError(error)
        metadata = decoded["metadata"]
        if str(metadata.get("result")) != "1":
            error = str(metadata.get("reason") or f"WHM {function} failed")
            self.log_call(function, query, decoded, error)
            raise WhmError(error)
        self.log_call(function, query, decoded)
        data = decoded.get("data")
        return data if isinstance(data, dict) else {}

    def _run(self, fn: Any) -> ModuleResult:
        try:
            return fn()
        except WhmError as exc:
            return ModuleResult.failed(str(exc))

    # -- WHMCS functions ----------------------------------------------------------------
    def create_account(self, params: ModuleParams) -> ModuleResult:
        def go() -> ModuleResult:
            package = params.option("Package") or params.text("configoption1")
            data = self.call(
                params,
                "createacct",
                username=params.text("username"),
                domain=params.text("domain"),
                plan=package or None,
                password=params.text("password"),
                contactemail=(params.get("clientsdetails") or {}).get("email", ""),
                ip="y" if params.flag("configoption2") else None,
            )
            ip = str(data.get("ip") or "") if params.flag("configoption2") else ""
            return ModuleResult.ok(dedicatedip=ip) if ip else ModuleResult.ok()

        return self._run(go)

    def suspend_account(self, params: ModuleParams) -> ModuleResult:
        return self._run(
            lambda: self._ok(
                self.call(
                    params,
                    "suspendacct",
                    user=params.text("username"),
                    reason=params.text("suspendreason") or None,
                )
            )
        )

    def unsuspend_account(self, params: ModuleParams) -> ModuleResult:
        return self._run(lambda: self._ok(self.call(params, "unsuspendacct", user=params.text("username"))))

    def terminate_account(self, params: ModuleParams) -> ModuleResult:
        return self._run(lambda: self._ok(self.call(params, "removeacct", username=params.text("username"))))

    def change_package(self, params: ModuleParams) -> ModuleResult:
        package = params.option("Package") or params.text("configoption1")
        return self._run(
            lambda: self._ok(self.call(params, "changepackage", user=params.text("username"), pkg=package))
        )

    def change_password(self, params: ModuleParams) -> ModuleResult:
        return self._run(
            lambda: self._ok(
                self.call(params, "passwd", user=params.text("username"), password=params.text("password"))
            )
        )

    def test_connection(self, params: ModuleParams) -> ModuleResult:
        def go() -> ModuleResult:
            version = self.call(params, "version").get("version", "")
            packages = self.call(params, "listpkgs").get("pkg") or []
            return ModuleResult.ok(version=str(version), packages=[p.get("name") for p in packages])

        return self._run(go)

    def single_sign_on(self, params: ModuleParams) -> ModuleResult:
        def go() -> ModuleResult:
            data = self.call(params, "create_user_session", user=params.text("username"), service="cpaneld")
            if not data.get("url"):
                return ModuleResult.failed("WHM did not return a session URL")
            return ModuleResult.ok(url=data["url"])

        return self._run(go)

    def create_session(self, params: ModuleParams) -> ModuleResult:
        """Custom button: a one-time cPanel login URL for the admin."""
        return self.single_sign_on(params)

    def usage_update(self, params: ModuleParams) -> list[UsageRecord]:
        """Disk and bandwidth (MB) of every account on the server, for the daily run."""
        accounts = self.call(params, "listaccts", want="user,diskused,disklimit").get("acct") or []
        bandwidth = {a.get("user"): a for a in (self.call(params, "showbw").get("acct") or [])}
        records = []
        for account in accounts:
            user = account.get("user", "")
            bw = bandwidth.get(user, {})
            records.append(
                UsageRecord(
                    username=user,
                    diskusage=_megabytes(account.get("diskused")),
                    disklimit=_megabytes(account.get("disklimit")),
                    bwusage=int(int(bw.get("totalbytes") or 0) / (1024 * 1024)),
                    bwlimit=int(int(_number(bw.get("limit"))) / (1024 * 1024)),
                )
            )
        return records

    @staticmethod
    def _ok(_data: dict[str, Any]) -> ModuleResult:
        return ModuleResult.ok()


def _number(value: Any) -> float:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return 0.0


def _megabytes(value: Any) -> int:
    """WHM sizes such as ``"150M"``, ``"2G"`` or ``"unlimited"`` (0) in megabytes."""
    text = str(value or "").strip().upper()
    if not text or text == "UNLIMITED":
        return 0
    factor = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}.get(text[-1])
    if factor is None:
        return int(_number(text))
    return int(_number(text[:-1]) * factor)
