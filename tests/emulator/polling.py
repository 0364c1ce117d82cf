# Licensed under the Apache License, Version 2.0.
"""
Helpers shared by the vendor emulator tests: polling (jobs progress in real time), the base of
the thin per-vendor HTTP clients, and a loopback HTTP server for remote files and callbacks.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle


def wait_for(check: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll ``check`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


class VendorClient:
    """
    Base of a thin vendor test client: the vendor's base URL on the emulator and one HTTP session.

    Subclasses set :attr:`vendor` (a name :meth:`EmulatorHandle.base_url` knows) and add the
    vendor's own way of authenticating and calling; the ``vendor_client`` fixture builds them.
    """

    vendor = ""

    def __init__(self, emulator: EmulatorHandle) -> None:
        self.emulator = emulator
        self.base = emulator.base_url(self.vendor)
        self.session = requests.Session()


class LocalServer:
    """
    A loopback HTTP server for remote_url inputs and job callbacks.

    ``files[path] = bytes`` or a callable returning an iterator of bytes; POSTs are recorded as
    ``(path, headers, JSON body)``.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes | Callable[[], Iterable[bytes]]] = {}
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.auth: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                content = server.files.get(self.path)
                expected = server.auth.get(self.path)
                if expected is not None and self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                if content is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                if isinstance(content, bytes):
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in content():
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                server.posts.append((self.path, dict(self.headers.items()), json.loads(body or b"null")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):  # returns self (a LocalServer)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
