"""``none``: for products set up by hand. Every function succeeds without a remote call."""

from __future__ import annotations

from billow.modules.servers.base import ModuleParams, ModuleResult, ServerModule


class NoneModule(ServerModule):
    name = "none"
    display_name = "None (manual set-up)"
    requires_server = False

    def create_account(self, params: ModuleParams) -> ModuleResult:
        self.log_call("CreateAccount", {"serviceid": params.get("serviceid")}, "manual")
        return ModuleResult.ok()

    def suspend_account(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def unsuspend_account(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def terminate_account(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def change_package(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def change_password(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()

    def test_connection(self, params: ModuleParams) -> ModuleResult:
        return ModuleResult.ok()
