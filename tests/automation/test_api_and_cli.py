"""GetAutomationLog, Get/SetConfigurationValue, ``billow cron`` and the housekeeping task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from typer.testing import CliRunner

from billow import clock
from billow.automation.runner import run_cron
from billow.automation.tasks.housekeeping import DataRetentionPrune
from billow.db.models import ApiLog, AutomationRun
from billow.services.settings import DEFAULTS

from .sample_tasks import sample_tasks
from .test_runner import DAY, make_clients

#: The keys of WHMCS's example responses (api-actions.json).
EXAMPLE_KEYS = {
    "GetConfigurationValue": {"result", "setting", "value"},
    "SetConfigurationValue": {"result", "value_changed"},
    "GetAutomationLog": {"result", "currentDatetime", "lastDailyCronInvocationTime", "startdate",
                         "enddate", "statistics"},
}


def _same_keys(action: str, body: dict) -> None:
    assert set(body) == EXAMPLE_KEYS[action]
    assert all(isinstance(v, str) for k, v in body.items() if k != "statistics")


def test_get_configuration_value_defaults_and_errors(api):
    body = api.ok("GetConfigurationValue", setting="CreateInvoiceDaysBefore")
    _same_keys("GetConfigurationValue", body)
    assert body == {"result": "success", "setting": "CreateInvoiceDaysBefore", "value": "14"}
    assert api.ok("GetConfigurationValue", setting="AutoSuspension")["value"] == "on"
    assert api.ok("GetConfigurationValue", setting="AutoTerminationDays")["value"] == "30"
    assert api.error("GetConfigurationValue") == "Parameter setting is required"
    assert api.error("GetConfigurationValue", setting="NoSuchThing") == "Invalid name for parameter setting"


def test_set_configuration_value_round_trip(api):
    body = api.ok("SetConfigurationValue", setting="AutoSuspensionDays", value="9")
    _same_keys("SetConfigurationValue", body)
    assert body["value_changed"] == "true"
    again = api.ok("SetConfigurationValue", setting="AutoSuspensionDays", value="9")
    assert again["value_changed"] == "false"
    assert api.ok("GetConfigurationValue", setting="AutoSuspensionDays")["value"] == "9"
    # A blank value unsets (WHMCS: "Leave value blank to unset").
    api.ok("SetConfigurationValue", setting="AutoSuspension", value="")
    assert api.ok("GetConfigurationValue", setting="AutoSuspension")["value"] == ""
    assert api.error("SetConfigurationValue", value="1") == "Parameter setting is required"
    invalid = api.error("SetConfigurationValue", setting="Nope", value="1")
    assert invalid == "Invalid name for parameter setting"
    assert api.error("SetConfigurationValue", setting="AutoSuspension") == "Parameter value is required"


def test_every_automation_setting_has_a_default():
    for key in ("AutoSuspension", "AutoSuspensionDays", "AutoUnsuspend", "AutoTermination",
                "AutoTerminationDays", "CreateInvoiceDaysBefore", "ContinuousInvoiceGeneration",
                "SendReminder", "SendInvoiceReminderDays", "SendFirstOverdueInvoiceReminder",
                "SendSecondOverdueInvoiceReminder", "SendThirdOverdueInvoiceReminder", "AddLateFeeDays",
                "InvoiceLateFeeAmount", "LateFeeType", "LateFeeMinimum", "AutoCancellationRequests",
                "OrderDaysGrace", "UpdateStatsAuto", "DailyCronExecutionHour", "CloseInactiveTickets"):
        assert key in DEFAULTS


def test_get_automation_log(api, db):
    make_clients(db, 3)
    run_cron(db, as_of=DAY, tasks=sample_tasks())
    with clock.frozen(datetime(2027, 3, 1, 15, 0, tzinfo=UTC)):
        empty = api.ok("GetAutomationLog")
    _same_keys("GetAutomationLog", empty)
    assert empty["startdate"] == "2027-03-01 00:00:00" and empty["enddate"] == "2027-03-01 23:59:59"
    assert empty["currentDatetime"] == "2027-03-01 15:00:00"
    assert empty["lastDailyCronInvocationTime"].startswith("2027-03-01")
    greet = empty["statistics"]["2027-03-01"]["GreetClients"]
    assert greet["counts"] == {"greeted": 3}
    assert greet["status"] == "completed" and greet["failed"] == 0 and greet["processed"] == 3
    one = api.ok("GetAutomationLog", startdate="2027-02-01", enddate="2027-03-31", namespace="remindclients")
    assert list(one["statistics"]["2027-03-01"]) == ["RemindClients"]
    none = api.ok("GetAutomationLog", startdate="2026-01-01", enddate="2026-01-02")
    assert none["statistics"] == []
    assert api.error("GetAutomationLog", startdate="yesterday") == "Invalid startdate"


def test_housekeeping_prunes_old_api_logs_only(db, uow):
    now = clock.now()
    uow.session.add_all([ApiLog(at=now - timedelta(days=200), action="Old"),
                         ApiLog(at=now - timedelta(days=10), action="Recent")])
    uow.commit()
    report = run_cron(db, as_of=clock.today(), tasks=[DataRetentionPrune()])
    assert report.result("DataRetentionPrune").counts == {"api_log": 1}
    with db() as session:
        assert list(session.scalars(select(ApiLog.action))) == ["Recent"]
        assert session.scalar(select(func.count(AutomationRun.id))) == 1


def test_cli_cron(db, monkeypatch):
    from billow import cli

    make_clients(db, 2)
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["cron", "--list"])
    assert listed.exit_code == 0 and "DataRetentionPrune" in listed.output
    ran = runner.invoke(cli.app, ["cron", "--date", "2027-03-01"])
    assert ran.exit_code == 0, ran.output
    with db() as session:
        run = session.scalar(select(AutomationRun))
        assert run is not None and run.run_date.isoformat() == "2027-03-01" and run.daily
    bad = runner.invoke(cli.app, ["cron", "--date", "01/03/2027"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    unknown = runner.invoke(cli.app, ["cron", "--only", "Nope"])
    assert unknown.exit_code == 1 and "Unknown automation task" in unknown.output
