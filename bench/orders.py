"""AddOrder + AcceptOrder (3 products, ``none`` module) against GetClients, in one run.

Both go through the real ASGI app and a fresh SQLite database, so the ratio says how much
an order (services, options, invoice, provisioning, events) costs compared with the
cheapest authenticated read; machines differ, ratios travel.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any


def _setup(data_dir: Path) -> tuple[Any, dict[str, str], dict[str, Any]]:
    os.environ.update(
        BILLOW_DATA_DIR=str(data_dir),
        BILLOW_DATABASE_URL=f"sqlite:///{data_dir / 'bench.db'}",
        BILLOW_SECRET_KEY="bench-key",
    )
    from billow.config import reset_settings

    reset_settings()
    from fastapi.testclient import TestClient

    from billow.api.app import create_app
    from billow.db.engine import session_factory
    from billow.db.migrate import upgrade
    from billow.services.access import admins, credentials, ip_allow_list
    from billow.services.catalog import products
    from billow.services.clients.accounts import ClientInput, add_client
    from billow.uow import UnitOfWork

    upgrade(os.environ["BILLOW_DATABASE_URL"])
    with UnitOfWork(session_factory()) as uow:
        admins.create_admin(uow, "bench", "bench password 123", email="b@example.com")
        ip_allow_list.add_allowed_ip(uow, "127.0.0.1/32", note="bench")
        credential = credentials.create_credential(uow, "bench")
        client = add_client(
            uow,
            ClientInput(values={"firstname": "B", "lastname": "C", "email": "b@c.example", "country": "US"}),
            skip_validation=True,
        )
        uow.session.flush()
        group = products.add_group(uow, "Bench")
        pids = []
        for name in ("A", "B", "C"):
            product = products.add_product(
                uow,
                products.ProductInput(
                    name=name,
                    gid=group.id,
                    type="other",
                    module="none",
                    autosetup="on",
                    pricing={client.currency_id: {"monthly": "5.00", "msetupfee": "1.00"}},
                ),
            )
            pids.append(product.id)
        uow.commit()
    http = TestClient(create_app(), client=("127.0.0.1", 50000))
    auth = {"identifier": credential.identifier, "secret": credential.secret}
    return http, auth, {"clientid": client.id, "pids": pids}


def _rate(fn: Any, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        done += 1
    return done / (time.perf_counter() - started)


def run(seconds: float = 3.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        http, auth, data = _setup(Path(tmp))

        def call(action: str, **params: Any) -> dict[str, Any]:
            body = http.post("/includes/api.php", data={"action": action, **auth, **params}).json()
            if body.get("result") != "success":
                raise RuntimeError(f"{action} failed: {body}")
            return body

        def get_clients() -> None:
            call("GetClients")

        def order() -> None:
            placed = call(
                "AddOrder",
                clientid=data["clientid"],
                paymentmethod="mailin",
                billingcycle="monthly",
                **{f"pid[{i}]": pid for i, pid in enumerate(data["pids"])},
            )
            call("AcceptOrder", orderid=placed["orderid"])

        get_clients(), order()  # warm up
        baseline = _rate(get_clients, seconds)
        orders = _rate(order, seconds)
        http.close()
    ratio = orders / baseline
    print(
        f"orders: GetClients {baseline:.1f}/s, AddOrder+AcceptOrder (3 products) {orders:.1f}/s, "
        f"ratio {ratio:.3f}"
    )
    return {"baseline_per_s": baseline, "orders_per_s": orders, "ratio": ratio}
