"""Issue 12, finding 10: ``billow demo`` (and so ``make run``) works whatever the state,
also after a demo client was deleted while its user login remained."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select


def test_demo_reloads_after_a_demo_client_was_deleted(db: Any) -> None:
    from billow.db.models import Client, User
    from billow.demo import CLIENTS, load_demo
    from billow.services.clients.accounts import find_client_by_email
    from billow.services.clients.lifecycle import delete_client
    from billow.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        load_demo(uow)
        uow.commit()
    email = CLIENTS[0][3]
    with UnitOfWork(db) as uow:
        client = find_client_by_email(uow, email)
        assert client is not None
        user_id = client.owner_user_id
        delete_client(uow, client.id)  # the user login stays (deleteusers=false)
        uow.commit()
    with UnitOfWork(db) as uow:
        assert load_demo(uow) == 2, "the deleted client and its contact are added again"
        uow.commit()
    with UnitOfWork(db) as uow:
        again = find_client_by_email(uow, email)
        assert again is not None and again.owner_user_id == user_id
        assert uow.session.scalar(select(func.count()).select_from(Client)) == len(CLIENTS)
        assert uow.session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.email) == email)) == 1
        assert load_demo(uow) == 0
