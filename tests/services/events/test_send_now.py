"""SendEmail and SendAdminEmail send inside the request, against a real SMTP server.

WHMCS answers these calls only once the mail went out (or did not): an unreachable or
refusing SMTP server is "Sending Failed. Please see documentation." and leaves nothing in
the client's e-mail log; ``deptid`` routes a support notification to that department's admins.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from billow import events
from billow.db.models import Admin, EmailMessage, EmailTemplate
from billow.services.access import admins
from billow.services.mail.composing import SENDING_FAILED
from billow.services.support import departments as support_departments
from billow.uow import UnitOfWork


def _rows(db) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).select_from(EmailMessage)))


def test_send_email_is_sent_and_logged_before_the_answer(api, db, smtp, add_client, drain):
    client_id = add_client(noemail=1)
    assert api.ok("SendEmail", messagename="Client Signup Email", id=client_id) == {"result": "success"}
    # No waiting: the SMTP server accepted the message before the API answered.
    [(rcpts, message)] = smtp.box.messages
    assert rcpts == ["ada@example.com"] and message["Subject"] == "Welcome to Billow Hosting"
    [logged] = api.ok("GetEmails", clientid=client_id)["emails"]["email"]
    assert logged["subject"] == "Welcome to Billow Hosting"
    assert logged["pending"] == 0 and logged["failed"] == 0 and logged["retry_count"] == 0
    stats = drain()                      # nothing was left for the worker to send again
    assert stats.emails_sent == 0 and len(smtp.box.messages) == 1


def test_smtp_down_is_sending_failed_and_logs_nothing(api, db, smtp, add_client, drain):
    client_id = add_client(noemail=1)
    smtp.stop()
    assert api.error("SendEmail", messagename="Client Signup Email", id=client_id) == SENDING_FAILED
    assert api.error("SendEmail", customtype="general", id=client_id, customsubject="News",
                     custommessage="<p>Hi</p>") == SENDING_FAILED
    assert api.error("SendAdminEmail", customsubject="Disk full", custommessage="<p>x</p>") == SENDING_FAILED
    assert api.ok("GetEmails", clientid=client_id)["totalresults"] == 0
    # One transaction per request: no queued row, no template row the request created.
    assert _rows(db) == 0
    with db() as session:
        assert session.scalars(select(EmailTemplate.name)).all() == []
    smtp.start()
    assert drain().emails_sent == 0      # the failed calls left nothing for a later retry
    assert smtp.box.messages == []
    api.ok("SendEmail", messagename="Client Signup Email", id=client_id)
    assert len(smtp.box.messages) == 1 and _rows(db) == 1


def test_unconfigured_smtp_is_sending_failed(api, db, add_client):
    client_id = add_client(noemail=1)
    assert api.error("SendEmail", messagename="Client Signup Email", id=client_id) == SENDING_FAILED
    assert _rows(db) == 0


def test_refused_recipient_is_sending_failed(api, db, smtp, add_client):
    client_id = add_client(email="nobody@example.com", noemail=1)
    smtp.refuse("nobody@example.com")
    assert api.error("SendEmail", messagename="Client Signup Email", id=client_id) == SENDING_FAILED
    assert smtp.box.messages == [] and _rows(db) == 0


def test_invalid_related_id_and_aborting_hook_are_sending_failed(api, db, smtp, add_client):
    # WHMCS lists both among the causes of its generic "Sending Failed".
    assert api.error("SendEmail", messagename="Client Signup Email", id=999) == SENDING_FAILED
    client_id = add_client(noemail=1)
    events.registry.add("EmailPreSend", lambda v: {"abortsend": True}, 1)
    assert api.error("SendEmail", messagename="Client Signup Email", id=client_id) == SENDING_FAILED
    assert smtp.box.messages == [] and _rows(db) == 0


@pytest.fixture
def departments(api, db):
    """Two departments; ann and bob work Sales, cat works Sales but is disabled, dan works Abuse."""
    with UnitOfWork(db) as uow:
        # Plain rows (no argon2 hashing per admin): these admins never log in.
        role_id = uow.session.scalar(select(Admin.role_id).where(Admin.username == "apiadmin"))
        for name in ("ann", "bob", "cat", "dan"):
            uow.session.add(Admin(username=name, email=f"{name}@staff.test", password_hash="-",
                                  role_id=role_id))
        sales = support_departments.add_department(uow, "Sales").id
        abuse = support_departments.add_department(uow, "Abuse").id
        empty = support_departments.add_department(uow, "Empty").id
        uow.commit()
    for name, dept in (("ann", sales), ("bob", sales), ("cat", sales), ("dan", abuse)):
        assert _cli("department-assign", name, str(dept))["changed"] is True
    with UnitOfWork(db) as uow:
        admins.set_admin_disabled(uow, "cat", True)
        uow.commit()
    return {"sales": sales, "abuse": abuse, "empty": empty}


def _cli(*args: str) -> dict:
    from billow.cli import app

    result = CliRunner().invoke(app, ["ticket", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _send_support(api, smtp, **params) -> list[str]:
    before = len(smtp.box.messages)
    api.ok("SendAdminEmail", customsubject="New lead", custommessage="<p>Call back</p>", **params)
    if len(smtp.box.messages) == before:
        return []
    [(rcpts, _)] = smtp.box.messages[before:]
    return sorted(rcpts)


def test_deptid_sends_to_that_departments_admins(api, db, smtp, departments):
    sales, abuse = departments["sales"], departments["abuse"]
    assert _send_support(api, smtp, type="support", deptid=sales) == ["ann@staff.test", "bob@staff.test"]
    assert _send_support(api, smtp, type="support", deptid=abuse) == ["dan@staff.test"]
    # deptid belongs to support notifications; other types reach every enabled admin.
    everyone = ["a@example.com", "ann@staff.test", "bob@staff.test", "dan@staff.test"]
    assert _send_support(api, smtp, type="system", deptid=abuse) == everyone
    assert _send_support(api, smtp, type="support") == everyone
    # A department nobody works has no one to tell: nothing is sent, nothing is logged.
    rows = _rows(db)
    assert _send_support(api, smtp, type="support", deptid=departments["empty"]) == []
    assert _rows(db) == rows
    # Admin notices belong to no client's log.
    with db() as session:
        assert set(session.scalars(select(EmailMessage.userid))) == {0}


def test_department_assignment_cli(api, db, smtp, departments):
    sales = departments["sales"]
    assert _cli("department-assign", "ann", str(sales)) == \
        {"department": sales, "changed": False, "admins": ["ann", "bob", "cat"]}
    assert _cli("department-unassign", "bob", str(sales)) == \
        {"department": sales, "changed": True, "admins": ["ann", "cat"]}
    assert _cli("department-unassign", "bob", str(sales))["changed"] is False
    assert _send_support(api, smtp, type="support", deptid=sales) == ["ann@staff.test"]
    from billow.cli import app

    unknown_admin = CliRunner().invoke(app, ["ticket", "department-assign", "zed", str(sales)])
    assert unknown_admin.exit_code == 1 and "No admin named zed" in unknown_admin.output
    unknown_dept = CliRunner().invoke(app, ["ticket", "department-assign", "ann", "999"])
    assert unknown_dept.exit_code == 1 and "Department ID not found" in unknown_dept.output
    # Deleting an admin takes its assignments with it (ON DELETE CASCADE).
    with UnitOfWork(db) as uow:
        uow.session.delete(uow.session.scalar(select(Admin).where(Admin.username == "ann")))
        uow.commit()
    assert _cli("department-assign", "dan", str(sales))["admins"] == ["cat", "dan"]
