# Licensed under the Apache License, Version 2.0.
"""
The emulator's ASGI application, fault injection, control plane and a threaded server runner.

Control plane (not part of any vendor API):

- ``POST /_emulator/config`` with JSON ``{"error_rate", "throttle_rate", "disconnect_rate",
  "latency_ms", "rows_per_second", "fail_jobs", "seed", "options"}``; ``GET`` returns it.
- ``GET /_emulator/stats``: ``{"requests": {vendor: {path: n}}, "jobs_created": {vendor: n},
  "credits_spent": {key: n}, "faults": {kind: n}, "credits": {key: balance}}``.
- ``POST /_emulator/reset``: forget jobs, statistics and faults; restore credits.
- ``POST /_emulator/credits`` with ``{"api_key", "credits"}``: set (or create) an account's balance.

Faults apply to vendor paths only: ``error_rate`` answers 5xx before the handler runs,
``throttle_rate`` answers the vendor's rate-limit response before the handler runs, and
``disconnect_rate`` lets the handler run (a job may be created) and then drops the connection
part-way through the response body, mid-download included.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import (
    DEFAULT_API_KEY,
    DEFAULT_CREDITS,
    DEFAULT_ROWS_PER_SECOND,
    EmulatorState,
    VendorEmulator,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

VENDOR_PREFIXES = {
    "neverbounce": "/neverbounce",
    "bouncer": "/bouncer",
    "bouncify": "/bouncify",
    "emailverifierapp": "/emailverifierapp",
}


class _ConnectionDropped(Exception):
    """Raised inside the ASGI app to make the server abort the connection mid-response."""


def vendor_emulators(state: EmulatorState) -> list[VendorEmulator]:
    """One instance of each vendor module, bound to ``state``."""
    from airflow_provider_emailverify.emulator.bouncer import BouncerEmulator
    from airflow_provider_emailverify.emulator.bouncify import BouncifyEmulator
    from airflow_provider_emailverify.emulator.emailverifierapp import EmailVerifierAppEmulator
    from airflow_provider_emailverify.emulator.neverbounce import NeverBounceEmulator

    return [cls(state) for cls in (NeverBounceEmulator, BouncerEmulator, BouncifyEmulator, EmailVerifierAppEmulator)]


class FaultMiddleware:
    """Pure ASGI middleware injecting latency, 5xx, throttling and dropped connections."""

    def __init__(self, app: Any, state: EmulatorState, vendors: list[VendorEmulator]) -> None:
        self.app = app
        self.state = state
        self.vendors = vendors

    def _vendor_for(self, path: str) -> tuple[VendorEmulator, str] | None:
        for vendor in self.vendors:
            if path.startswith(vendor.prefix + "/"):
                return vendor, path[len(vendor.prefix) :]
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self._vendor_for(scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        vendor, sub_path = found
        config = self.state.config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000.0)
        if self.state.chance(config.error_rate):
            self._count("error")
            await vendor.error_response(sub_path)(scope, receive, send)
            return
        if self.state.chance(config.throttle_rate):
            self._count("throttle")
            await vendor.throttle_response(sub_path)(scope, receive, send)
            return
        if self.state.chance(config.disconnect_rate):
            self._count("disconnect")
            await self.app(scope, receive, self._dropping_send(send))
            return
        await self.app(scope, receive, send)

    def _count(self, kind: str) -> None:
        with self.state.lock:
            self.state.faults[kind] += 1

    def _dropping_send(self, send: Any) -> Any:
        """
        Pass the response through, then abort the connection part-way: inside the body of a
        one-piece response, or after a random byte budget of a streamed one (mid-download).
        """
        budget = self.state.randint(0, 256 * 1024)
        sent = 0

        async def wrapped(message: dict) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                final = not message.get("more_body", False)
                if final or sent + len(body) >= budget:
                    cut = self.state.randint(0, max(len(body) - 1, 0)) if final else max(budget - sent, 0)
                    await send({"type": "http.response.body", "body": body[:cut], "more_body": True})
                    raise _ConnectionDropped("connection dropped by fault injection")
                sent += len(body)
            await send(message)

        return wrapped


class _QuietDrops:
    """Logging filter hiding the server's traceback for connections dropped on purpose."""

    def filter(self, record: Any) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _ConnectionDropped) and "connection dropped by fault injection" not in str(exc or "")


def create_app(state: EmulatorState | None = None) -> Starlette:
    """The emulator as an ASGI app: every vendor under its prefix, plus the control plane."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route, Router

    state = state or EmulatorState()
    vendors = vendor_emulators(state)

    async def config(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state.config.as_dict())
        try:
            data = await request.json()
            return JSONResponse(state.configure(data))
        except (ValueError, TypeError) as err:
            return JSONResponse({"error": str(err)}, status_code=400)

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def credits(request: Request) -> Response:
        data = await request.json()
        state.set_credits(str(data["api_key"]), int(data["credits"]))
        return JSONResponse({"api_key": data["api_key"], "credits": state.balance(str(data["api_key"]))})

    routes = [
        Route("/_emulator/config", config, methods=["GET", "POST"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/credits", credits, methods=["POST"]),
    ]
    routes += [Mount(vendor.prefix, app=Router(vendor.routes())) for vendor in vendors]
    app = Starlette(routes=routes)
    app.state.emulator = state
    app.add_middleware(FaultMiddleware, state=state, vendors=vendors)
    return app


class EmulatorServer:
    """
    Run the emulator with uvicorn on a background thread.

    :param host: address to bind (loopback by default).
    :param port: port, ``0`` for any free one.
    :param state: shared state; a new one when omitted.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, state: EmulatorState | None = None) -> None:
        self.host = host
        self.port = port
        self.state = state or EmulatorState()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, vendor: str) -> str:
        """Base URL to put in a connection's host for ``vendor`` (``neverbounce_v3`` shares NeverBounce's)."""
        key = "neverbounce" if vendor == "neverbounce_v3" else vendor
        return self.url + VENDOR_PREFIXES[key]

    def start(self) -> EmulatorServer:
        import socket

        import uvicorn

        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: without it, a keep-alive client waits ~40 ms per
        # request (Nagle holding the response body back until the headers are acknowledged).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        import logging

        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        server = self._server

        def run() -> None:
            asyncio.run(server.serve(sockets=[sock]))

        self._thread = threading.Thread(target=run, name="emailverify-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_keys: list[str] | None = None,
    credits: int = DEFAULT_CREDITS,
    rows_per_second: float = DEFAULT_ROWS_PER_SECOND,
) -> None:
    """Command-line entry: print ``emulator listening on URL`` and serve until interrupted."""
    state = EmulatorState(api_keys=api_keys or [DEFAULT_API_KEY], credits=credits, rows_per_second=rows_per_second)
    server = EmulatorServer(host=host, port=port, state=state).start()
    print(f"emulator listening on {server.url}", flush=True)
    try:
        while server._thread is not None and server._thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
