"""A small IMAP4rev1 server on loopback for the poller's tests (RFC 3501, the commands used).

Implements CAPABILITY, LOGIN, SELECT, SEARCH UNSEEN, FETCH n (RFC822), STORE n +FLAGS
(\\Seen), NOOP and LOGOUT over plain TCP, with tagged OK/NO/BAD answers, literals for
message bodies, and per-message ``\\Seen`` flags the tests can inspect.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


@dataclass
class StoredMessage:
    raw: bytes
    seen: bool = False


@dataclass
class Mailbox:
    user: str
    password: str
    messages: list[StoredMessage] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def _args(text: str) -> list[str]:
    return [
        m.group(1).replace('\\"', '"').replace("\\\\", "\\") if m.group(1) is not None else m.group(2)
        for m in _TOKEN.finditer(text)
    ]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode()
        self.wfile.write(data + b"\r\n")

    def handle(self) -> None:
        box: Mailbox | None = None
        selected = False
        self.send("* OK [CAPABILITY IMAP4rev1] Billow test IMAP ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            tag, _, rest = text.partition(" ")
            command, _, argtext = rest.partition(" ")
            command = command.upper()
            args = _args(argtext)
            self.server.log.append(command)
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1")
                self.send(f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                self.send(f"{tag} OK NOOP completed")
            elif command == "LOGIN":
                box = self.server.boxes.get(args[0]) if len(args) == 2 else None
                if box is None or box.password != args[1]:
                    box = None
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
                else:
                    self.send(f"{tag} OK LOGIN completed")
            elif command == "LOGOUT":
                self.send("* BYE logging out")
                self.send(f"{tag} OK LOGOUT completed")
                return
            elif box is None:
                self.send(f"{tag} BAD not authenticated")
            elif command == "SELECT":
                if not args or args[0].upper() != "INBOX":
                    self.send(f"{tag} NO no such mailbox")
                    continue
                selected = True
                self.send(f"* {len(box.messages)} EXISTS")
                self.send("* 0 RECENT")
                self.send("* FLAGS (\\Seen)")
                self.send(f"{tag} OK [READ-WRITE] SELECT completed")
            elif not selected:
                self.send(f"{tag} BAD no mailbox selected")
            elif command == "SEARCH" and [a.upper() for a in args] == ["UNSEEN"]:
                numbers = [str(i) for i, m in enumerate(box.messages, start=1) if not m.seen]
                self.send("* SEARCH" + "".join(f" {n}" for n in numbers))
                self.send(f"{tag} OK SEARCH completed")
            elif command == "FETCH" and len(args) == 2 and args[1].upper() == "(RFC822)":
                message = self._message(box, args[0])
                if message is None:
                    self.send(f"{tag} BAD invalid message number")
                    continue
                self.send(
                    f"* {args[0]} FETCH (RFC822 {{{len(message.raw)}}}".encode()
                    + b"\r\n"
                    + message.raw
                    + b")"
                )
                message.seen = True  # RFC 3501: fetching the body (not BODY.PEEK) sets \\Seen
                self.send(f"{tag} OK FETCH completed")
            elif command == "STORE" and len(args) == 3 and args[1].upper() == "+FLAGS":
                message = self._message(box, args[0])
                if message is None:
                    self.send(f"{tag} BAD invalid message number")
                    continue
                message.seen = message.seen or "\\seen" in args[2].lower()
                flags = "\\Seen" if message.seen else ""
                self.send(f"* {args[0]} FETCH (FLAGS ({flags}))")
                self.send(f"{tag} OK STORE completed")
            else:
                self.send(f"{tag} BAD unknown or unsupported command")

    @staticmethod
    def _message(box: Mailbox, number: str) -> StoredMessage | None:
        if not number.isdigit() or not 1 <= int(number) <= len(box.messages):
            return None
        return box.messages[int(number) - 1]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, boxes: dict[str, Mailbox]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.boxes = boxes
        self.log: list[str] = []


class ImapServer:
    """Start with ``with ImapServer({...}) as server:``; ``server.port`` is the port."""

    def __init__(self, boxes: dict[str, Mailbox]) -> None:
        self._server = _Server(boxes)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def commands(self) -> list[str]:
        return self._server.log

    def __enter__(self) -> ImapServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
