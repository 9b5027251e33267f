"""The infrafabric module against a local server implementing docs/infrafabric-api.md."""

from __future__ import annotations

import json

from billow.modules.servers.base import ModuleParams
from billow.modules.servers.infrafabric import InfraFabricModule


def params(fabric, **extra):
    host, _, port = fabric.url.split("//")[1].partition(":")
    base = {
        "serverhostname": host,
        "serverport": int(port),
        "serversecure": False,
        "serverusername": fabric.key,
        "serverpassword": fabric.secret,
        "serviceid": 3,
        "domain": "vm1.example.com",
        "password": "R00t!pass",
        "username": "",
        "configoption1": "small-1",
        "configoption2": "eu",
        "configoption3": "debian-12",
        "configoption4": "vm",
        "configoptions": {"RAM": "4096", "CPU": "2"},
        "moduledata": {},
    }
    base.update(extra)
    return ModuleParams(base)


def test_lifecycle_maps_to_the_contract(fabric):
    module = InfraFabricModule(timeout=5)
    created = module.create_account(params(fabric))
    assert created.success, created.error
    iid = created.data["module_data"]["instance_id"]
    assert created.data["dedicatedip"] == "203.0.113.1"
    body = json.loads(fabric.requests[-1]["body"])
    assert body["resources"] == {"cpu": 2, "ram_mb": 4096} and body["reference"] == "billow-service-3"
    p = params(fabric, moduledata={"instance_id": iid})
    assert module.suspend_account(p).success and fabric.instances[iid]["status"] == "stopped"
    assert module.unsuspend_account(p).success and fabric.instances[iid]["status"] == "running"
    assert module.change_package(
        params(fabric, moduledata={"instance_id": iid}, configoption1="large-4")
    ).success
    assert fabric.instances[iid]["plan"] == "large-4"
    assert module.change_password(
        params(fabric, moduledata={"instance_id": iid}, password="An0ther!")
    ).success
    assert fabric.instances[iid]["root_password"] == "An0ther!"
    assert module.reboot(p).success and fabric.instances[iid]["reboots"] == 1
    assert module.console(p).data["url"].startswith("https://console.example.net/")
    assert module.usage_update(p)[0].diskusage == 2048
    assert module.terminate_account(p).success and iid not in fabric.instances
    # A retried delete finds the instance gone: the goal is met.
    assert module.terminate_account(p).success


def test_signature_is_checked_by_the_server(fabric):
    result = InfraFabricModule(timeout=5).create_account(params(fabric, serverpassword="wrong-secret"))
    assert not result.success and result.error == "Request signature is not valid"


def test_api_errors_garbage_and_missing_instance(fabric):
    module = InfraFabricModule(timeout=5)
    assert module.create_account(params(fabric, configoption1="")).error == "plan is required"
    assert "create it first" in module.suspend_account(params(fabric)).error
    fabric.garbage = True
    assert module.create_account(params(fabric)).error.startswith("Invalid response from InfraFabric")


def test_retries_only_idempotent_calls(fabric):
    module = InfraFabricModule(timeout=5)
    iid = module.create_account(params(fabric)).data["module_data"]["instance_id"]
    fabric.down = True
    before = len(fabric.requests)
    assert not module.suspend_account(params(fabric, moduledata={"instance_id": iid})).success
    assert len(fabric.requests) - before == 3  # PUT power is idempotent
    before = len(fabric.requests)
    assert not module.create_account(params(fabric)).success
    assert len(fabric.requests) - before == 1  # POST create is sent once
    before = len(fabric.requests)
    assert not module.reboot(params(fabric, moduledata={"instance_id": iid})).success
    assert len(fabric.requests) - before == 1


def test_timeout(fabric):
    fabric.delay = 1.0
    result = InfraFabricModule(timeout=0.2).create_account(params(fabric))
    assert not result.success and result.error == "Connection timed out"
