# Licensed under the Apache License, Version 2.0.
"""
A small HTTP proxy in front of the emulator that cuts chosen requests off.

The emulator's control plane injects faults into every vendor path alike; a test that needs one
endpoint to fail (a start request whose answer is lost, while the upload before it succeeds)
puts this proxy between the client and the emulator. Everything else is relayed unchanged.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable

#: What the rule can ask for a request: relay it, cut it off unsent, or relay it and cut off the
#: answer. A rule may also return an ``int`` ``n``: relay the request and the answer's headers,
#: then close the connection after ``n`` bytes of the body (the whole answer when it is shorter).
RELAY, DROP, DROP_ANSWER = "relay", "drop", "drop-answer"
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})


class CuttingProxy:
    """
    Relay HTTP requests to ``target``, except where ``rule(method, path)`` says to cut them off.

    Use as a context manager; :attr:`seen` lists ``(method, path, action)`` for every request.

    :param target: the emulator's URL (``http://127.0.0.1:PORT``).
    :param rule: returns :data:`RELAY`, :data:`DROP` (close the connection without relaying the
        request), :data:`DROP_ANSWER` (relay it, then close the connection without answering) or
        a number of bytes (relay it, then cut the answer's body off after that many bytes).
    """

    def __init__(self, target: str, rule: Callable[[str, str], str | int]) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname, parts.port)
        self.rule = rule
        self.seen: list[tuple[str, str, str | int]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, method: str, action: str | None = None) -> int:
        """Requests seen with ``method`` (and ``action``, when given)."""
        return sum(1 for m, _, a in self.seen if m == method and action in (None, a))

    def __enter__(self) -> CuttingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = proxy.rule(self.command, self.path)
                proxy.seen.append((self.command, self.path, action))
                if action == DROP:
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection(*proxy.target, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                finally:
                    conn.close()
                if action == DROP_ANSWER:
                    self.close_connection = True
                    return
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in _HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if isinstance(action, int) and action < len(data):
                    self.wfile.write(data[:action])
                    self.close_connection = True
                    return
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="cutting-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
