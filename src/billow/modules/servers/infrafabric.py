"""``infrafabric``: virtual machines and containers on an InfraFabric cloud.

The HTTP JSON API this module expects is written down in ``docs/infrafabric-api.md``
(the contract a platform implements to be driven by Billow). In short: every request is
signed with HMAC-SHA256 over method, path, timestamp and body hash using the API secret
(server password) and carries the API key (server username); create is ``POST`` and is
sent once; state changes are ``PUT`` and ``DELETE`` and are retried, because the
contract makes them idempotent.

Mapping of WHMCS functions: create → ``POST /v1/instances``, suspend → power ``stopped``,
unsuspend → power ``running``, terminate → ``DELETE``, change package → ``PUT plan``
(resize), change password → ``PUT password``; custom buttons reboot and console URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
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

#: Configurable option names that override the plan's resources.
RESOURCE_OPTIONS = {"CPU": "cpu", "RAM": "ram_mb", "Disk": "disk_gb", "Bandwidth": "bandwidth_gb"}


class FabricError(Exception):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """The request signature of the contract (also used by the test server to verify)."""
    message = "\n".join([method.upper(), path, timestamp, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class InfraFabricModule(ServerModule):
    name = "infrafabric"
    display_name = "InfraFabric Cloud"
    default_port = 80
    default_ssl_port = 443
    sso_label = "Open console"
    product_config = (
        ConfigField("Plan", "text", description="Plan name on the platform (e.g. small-2)"),
        ConfigField("Region", "text", default="default"),
        ConfigField("Image", "text", default="debian-12"),
        ConfigField("Type", "dropdown", default="vm", options=("vm", "container")),
    )
    custom_buttons = {"Reboot": "reboot", "Console URL": "console"}

    def __init__(self, *, timeout: float | None = None, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__()
        self.timeout = timeout if timeout is not None else module_timeout()
        self.transport = transport

    # -- the protocol -------------------------------------------------------------------
    def request(
        self,
        params: ModuleParams,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        idempotent: bool,
    ) -> dict[str, Any]:
        secure = params.flag("serversecure")
        host = params.text("serverhostname") or params.text("serverip")
        port = params.get("serverport") or (self.default_ssl_port if secure else self.default_port)
        url = f"{'https' if secure else 'http'}://{host}:{port}{path}"
        body = json.dumps(payload).encode() if payload is not None else b""
        key, secret = params.text("serverusername"), params.text("serverpassword")
        logged_request = {"method": method, "path": path, "body": payload}

        def headers() -> dict[str, str]:
            stamp = str(int(time.time()))
            return {
                "X-IF-Key": key,
                "X-IF-Timestamp": stamp,
                "X-IF-Signature": sign(secret, method, path, stamp, body),
                "Content-Type": "application/json",
                "Accept": "application/json",
            }

        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = send(client, method, url, idempotent=idempotent, content=body, headers=headers())
        except httpx.HTTPError as exc:
            error = describe_transport_error(exc)
            self.log_call(f"{method} {path}", logged_request, "", error)
            raise FabricError(error) from exc
        try:
            decoded = response.json() if response.content else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            error = f"Invalid response from InfraFabric (HTTP {response.status_code})"
            self.log_call(f"{method} {path}", logged_request, response.text[:2000], error)
            raise FabricError(error, response.status_code) from None
        if not isinstance(decoded, dict):
            error = f"Invalid response from InfraFabric (HTTP {response.status_code})"
            self.log_call(f"{method} {path}", logged_request, response.text[:2000], error)
            raise FabricError(error, response.status_code)
        if response.status_code >= 400:
            detail = decoded.get("error") if isinstance(decoded.get("error"), dict) else {}
            error = str(detail.get("message") or f"InfraFabric answered HTTP {response.status_code}")
            self.log_call(f"{method} {path}", logged_request, decoded, error)
            raise FabricError(error, response.status_code)
        self.log_call(f"{method} {path}", logged_request, decoded)
        return decoded

    @staticmethod
    def _instance_id(params: ModuleParams) -> str:
        instance = str((params.get("moduledata") or {}).get("instance_id") or "")
        if not instance:
            raise FabricError("The service has no InfraFabric instance (create it first)")
        return instance

    @staticmethod
    def _resources(params: ModuleParams) -> dict[str, int]:
        resources = {}
        for option, key in RESOURCE_OPTIONS.items():
            value = params.option(option)
            if value:
                try:
                    resources[key] = int(float(value))
                except ValueError:
                    continue
        return resources

    def _run(self, fn: Any) -> ModuleResult:
        try:
            return fn()
        except FabricError as exc:
            return ModuleResult.failed(str(exc))

    def _path(self, params: ModuleParams, suffix: str = "") -> str:
        return f"/v1/instances/{self._instance_id(params)}{suffix}"

    # -- WHMCS functions ----------------------------------------------------------------
    def create_account(self, params: ModuleParams) -> ModuleResult:
        def go() -> ModuleResult:
            payload = {
                "name": params.text("domain") or f"service-{params.get('serviceid')}",
                "plan": params.text("configoption1"),
                "region": params.text("configoption2") or "default",
                "image": params.text("configoption3") or "debian-12",
                "type": params.text("configoption4") or "vm",
                "resources": self._resources(params),
                "root_password": params.text("password"),
                "reference": (
                    f"billow-addon-{params.get('addonId')}"
                    if params.get("addonId")
                    else f"billow-service-{params.get('serviceid')}"
                ),
            }
            instance = self.request(params, "POST", "/v1/instances", payload, idempotent=False)
            data = instance.get("instance") or {}
            if not data.get("id"):
                return ModuleResult.failed("InfraFabric did not return an instance id")
            return ModuleResult.ok(
                dedicatedip=str(data.get("ipv4") or ""),
                assignedips=str(data.get("ipv6") or ""),
                module_data={"instance_id": str(data["id"])},
            )

        return self._run(go)

    def _power(self, params: ModuleParams, state: str) -> ModuleResult:
        return self._run(
            lambda: self._ok(
                self.request(params, "PUT", self._path(params, "/power"), {"state": state}, idempotent=True)
            )
        )

    def suspend_account(self, params: ModuleParams) -> ModuleResult:
        return self._power(params, "stopped")

    def unsuspend_account(self, params: ModuleParams) -> ModuleResult:
        return self._power(params, "running")

    def terminate_account(self, params: ModuleParams) -> ModuleResult:
        def go() -> ModuleResult:
            try:
                self.request(params, "DELETE", self._path(params), idempotent=True)
            except FabricError as exc:
                if exc.status != 404:  # already gone (e.g. a retried delete): the goal is met
                    raise
            return ModuleResult.ok(module_data={})

        return self._run(go)

    def change_package(self, params: ModuleParams) -> ModuleResult:
        return self._run(
            lambda: self._ok(
                self.request(
                    params,
                    "PUT",
                    self._path(params, "/plan"),
                    {"plan": params.text("configoption1"), "resources": self._resources(params)},
                    idempotent=True,
                )
            )
        )

    def change_password(self, params: ModuleParams) -> ModuleResult:
        return self._run(
            lambda: self._ok(
                self.request(
                    params,
                    "PUT",
                    self._path(params, "/password"),
                    {"root_password": params.text("password")},
                    idempotent=True,
                )
            )
        )

    def test_connection(self, params: ModuleParams) -> ModuleResult:
        return self._run(lambda: ModuleResult.ok(**self.request(params, "GET", "/v1/ping", idempotent=True)))

    def reboot(self, params: ModuleParams) -> ModuleResult:
        return self._run(
            lambda: self._ok(
                self.request(params, "POST", self._path(params, "/reboot"), {}, idempotent=False)
            )
        )

    def console(self, params: ModuleParams) -> ModuleResult:
        def go() -> ModuleResult:
            data = self.request(params, "POST", self._path(params, "/console"), {}, idempotent=False)
            url = (data.get("console") or {}).get("url")
            return ModuleResult.ok(url=url) if url else ModuleResult.failed("No console URL returned")

        return self._run(go)

    def single_sign_on(self, params: ModuleParams) -> ModuleResult:
        return self.console(params)

    def usage_update(self, params: ModuleParams) -> list[UsageRecord]:
        """Usage of one instance (``params`` of a service) in MB."""
        usage = self.request(params, "GET", self._path(params, "/usage"), idempotent=True).get("usage") or {}
        return [
            UsageRecord(
                username=params.text("username"),
                diskusage=int(usage.get("disk_mb") or 0),
                disklimit=int(usage.get("disk_limit_mb") or 0),
                bwusage=int(usage.get("bandwidth_mb") or 0),
                bwlimit=int(usage.get("bandwidth_limit_mb") or 0),
            )
        ]

    @staticmethod
    def _ok(_data: dict[str, Any]) -> ModuleResult:
        return ModuleResult.ok()
