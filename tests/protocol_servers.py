"""Small local servers that speak the remote protocols of the built-in modules.

:class:`FakeWhm` answers WHM API 1 (``/json-api/<function>?api.version=1``, the
``Authorization: whm user:token`` header, the ``metadata.result`` envelope) and
:class:`FakeFabric` the InfraFabric contract of ``docs/infrafabric-api.md`` (HMAC-signed
requests, verified here independently of the module's code). Both can be switched to
failure modes: ``down`` (HTTP 503), ``garbage`` (an HTML page), ``delay`` (seconds before
answering, for timeouts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


class _Base(ABC):
    def __init__(self) -> None:
        self.down = False
        self.garbage = False
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                if owner.delay:
                    time.sleep(owner.delay)
                if owner.down:
                    return self._send(503, b'{"error": {"code": "unavailable", "message": "maintenance"}}')
                if owner.garbage:
                    return self._send(200, b"<html><body>Internal proxy page</body></html>", "text/html")
                status, payload = owner.handle(self.command, self.path, dict(self.headers), body)
                if status == 0:  # the work is done but the answer is lost: the connection drops
                    self.close_connection = True
                    return None
                data = b"" if payload is None else json.dumps(payload).encode()
                return self._send(status, data)

            def _send(self, status: int, data: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve_safely(self) -> None:
                try:
                    self._serve()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (a timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = _serve_safely

        return Handler

    @abstractmethod
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """Answer one request: (HTTP status, JSON payload or None for no body)."""


class FakeWhm(_Base):
    """WHM API 1 with token authentication, holding accounts in memory."""

    def __init__(self, user: str = "root", token: str = "WHMTOKEN123456") -> None:
        self.user, self.token = user, token
        self.packages = {"starter_pkg", "gold_pkg"}
        self.accounts: dict[str, dict[str, Any]] = {}
        super().__init__()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = urlsplit(path)
        if headers.get("Authorization") != f"whm {self.user}:{self.token}":
            return 403, {
                "cpanelresult": {
                    "apiversion": "2",
                    "error": "Access denied",
                    "data": {"reason": "Access denied", "result": "0"},
                }
            }
        if not parts.path.startswith("/json-api/"):
            return 404, {"error": "not found"}
        function = parts.path.rsplit("/", 1)[1]
        args = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if args.get("api.version") != "1":
            return 200, {"metadata": {"result": 0, "reason": "api.version=1 is required", "version": 1}}
        fn = getattr(self, f"fn_{function}", None)
        if fn is None:
            return 200, self._env(
                function, 0, f"Unknown app (“{function}”) requested for this version (1) of the API."
            )
        try:
            data = fn(args)
        except WhmRefusal as exc:
            return 200, self._env(function, 0, str(exc))
        return 200, {**self._env(function, 1, "OK"), "data": data}

    @staticmethod
    def _env(command: str, result: int, reason: str) -> dict[str, Any]:
        return {"metadata": {"version": 1, "reason": reason, "result": result, "command": command}}

    def _account(self, name: str) -> dict[str, Any]:
        if name not in self.accounts:
            raise WhmRefusal(f"User “{name}” does not exist.")
        return self.accounts[name]

    def fn_version(self, args: dict[str, str]) -> dict[str, Any]:
        return {"version": "11.118.0.5"}

    def fn_listpkgs(self, args: dict[str, str]) -> dict[str, Any]:
        return {"pkg": [{"name": p} for p in sorted(self.packages)]}

    def fn_createacct(self, args: dict[str, str]) -> dict[str, Any]:
        for key in ("username", "domain", "password"):
            if not args.get(key):
                raise WhmRefusal(f"You must specify the “{key}” parameter.")
        if args.get("plan") and args["plan"] not in self.packages:
            raise WhmRefusal(f"The package “{args['plan']}” does not exist.")
        if args["username"] in self.accounts:
            raise WhmRefusal(f"Sorry, a user with the name “{args['username']}” already exists.")
        self.accounts[args["username"]] = {
            "domain": args["domain"],
            "plan": args.get("plan", "default"),
            "password": args["password"],
            "suspended": False,
            "reason": "",
            "email": args.get("contactemail", ""),
        }
        return {"ip": "192.0.2.10", "nameserver": "ns1.example.net", "package": args.get("plan", "")}

    def fn_suspendacct(self, args: dict[str, str]) -> dict[str, Any]:
        account = self._account(args.get("user", ""))
        account.update(suspended=True, reason=args.get("reason", ""))
        return {}

    def fn_unsuspendacct(self, args: dict[str, str]) -> dict[str, Any]:
        self._account(args.get("user", ""))["suspended"] = False
        return {}

    def fn_removeacct(self, args: dict[str, str]) -> dict[str, Any]:
        self._account(args.get("username", ""))
        del self.accounts[args["username"]]
        return {}

    def fn_changepackage(self, args: dict[str, str]) -> dict[str, Any]:
        account = self._account(args.get("user", ""))
        if args.get("pkg") not in self.packages:
            raise WhmRefusal(f"The package “{args.get('pkg')}” does not exist.")
        account["plan"] = args["pkg"]
        return {}

    def fn_passwd(self, args: dict[str, str]) -> dict[str, Any]:
        account = self._account(args.get("user", ""))
        if len(args.get("password", "")) < 8:
            raise WhmRefusal("The password is too weak.")
        account["password"] = args["password"]
        return {"app": [{"app": "system", "result": 1}]}

    def fn_create_user_session(self, args: dict[str, str]) -> dict[str, Any]:
        self._account(args.get("user", ""))
        if args.get("service") != "cpaneld":
            raise WhmRefusal("Invalid service.")
        return {
            "url": f"https://server.example.net:2083/cpsess123/login/?session={args['user']}:abc",
            "expires": 1700000000,
            "service": "cpaneld",
            "session": f"{args['user']}:abc",
        }

    def fn_listaccts(self, args: dict[str, str]) -> dict[str, Any]:
        return {"acct": [{"user": u, "diskused": "150M", "disklimit": "1000M"} for u in self.accounts]}

    def fn_showbw(self, args: dict[str, str]) -> dict[str, Any]:
        return {
            "acct": [
                {"user": u, "totalbytes": str(300 * 1024 * 1024), "limit": str(2048 * 1024 * 1024)}
                for u in self.accounts
            ]
        }


class WhmRefusal(Exception):
    """WHM's ``metadata.result = 0`` with this reason."""


class FakeFabric(_Base):
    """The InfraFabric contract, with HMAC-SHA256 request signatures checked."""

    def __init__(self, key: str = "ifkey", secret: str = "ifsecret-0123456789") -> None:
        self.key, self.secret = key, secret
        self.instances: dict[str, dict[str, Any]] = {}
        self._next = 0
        super().__init__()

    def _verify(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        stamp = headers.get("X-IF-Timestamp", "")
        if headers.get("X-IF-Key") != self.key or not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return False
        text = f"{method}\n{path}\n{stamp}\n{hashlib.sha256(body).hexdigest()}".encode()
        expected = hmac.new(self.secret.encode(), text, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("X-IF-Signature", ""))

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if not self._verify(method, path, headers, body):
            return 401, {"error": {"code": "bad_signature", "message": "Request signature is not valid"}}
        payload = json.loads(body) if body else {}
        parts = path.strip("/").split("/")
        if parts == ["v1", "ping"] and method == "GET":
            return 200, {"status": "ok", "version": "2.4"}
        if parts == ["v1", "instances"] and method == "POST":
            if not payload.get("plan"):
                return 422, {"error": {"code": "invalid_plan", "message": "plan is required"}}
            self._next += 1
            iid = f"i-{self._next:04d}"
            self.instances[iid] = {
                "id": iid,
                "name": payload["name"],
                "status": "running",
                "plan": payload["plan"],
                "resources": payload.get("resources", {}),
                "ipv4": f"203.0.113.{self._next}",
                "ipv6": f"2001:db8::{self._next}",
                "root_password": payload.get("root_password", ""),
                "reboots": 0,
            }
            return 201, {"instance": self._public(iid)}
        if len(parts) >= 3 and parts[:2] == ["v1", "instances"]:
            iid = parts[2]
            if iid not in self.instances:
                return 404, {"error": {"code": "not_found", "message": f"Instance {iid} not found"}}
            instance = self.instances[iid]
            action = parts[3] if len(parts) > 3 else ""
            if method == "DELETE" and not action:
                del self.instances[iid]
                return 204, None
            if method == "PUT" and action == "power":
                if payload.get("state") not in ("running", "stopped"):
                    return 422, {
                        "error": {"code": "invalid_state", "message": "state must be running or stopped"}
                    }
                instance["status"] = payload["state"]
                return 200, {"instance": self._public(iid)}
            if method == "PUT" and action == "plan":
                instance.update(plan=payload.get("plan"), resources=payload.get("resources", {}))
                return 200, {"instance": self._public(iid)}
            if method == "PUT" and action == "password":
                instance["root_password"] = payload.get("root_password", "")
                return 200, {"instance": self._public(iid)}
            if method == "POST" and action == "reboot":
                instance["reboots"] += 1
                return 202, {"instance": self._public(iid)}
            if method == "POST" and action == "console":
                return 201, {
                    "console": {"url": f"https://console.example.net/{iid}?t=xyz", "expires_at": "soon"}
                }
            if method == "GET" and action == "usage":
                return 200, {
                    "usage": {
                        "disk_mb": 2048,
                        "disk_limit_mb": 40960,
                        "bandwidth_mb": 512,
                        "bandwidth_limit_mb": 1048576,
                    }
                }
        return 404, {"error": {"code": "not_found", "message": "No such endpoint"}}

    def _public(self, iid: str) -> dict[str, Any]:
        return {k: v for k, v in self.instances[iid].items() if k not in ("root_password", "reboots")}


@pytest.fixture
def whm() -> Iterator[FakeWhm]:
    server = FakeWhm()
    yield server
    server.close()


@pytest.fixture
def fabric() -> Iterator[FakeFabric]:
    server = FakeFabric()
    yield server
    server.close()
