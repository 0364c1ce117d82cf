# Licensed under the Apache License, Version 2.0.
"""Plain-HTTP helpers for the NeverBounce emulator tests (no provider client involved)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle

FINAL = ("complete", "failed")

#: a small list with every verdict, a bad address and a repeated one (address, name)
ROWS = [
    ["support@neverbounce.com", "Fred McValid"],
    ["invalid@neverbounce.com", "Bob McInvalid"],
    ["someone@catchall.test", "Cat"],
    ["temp@mailinator.com", "Dis"],
    ["unknown1@example.com", "Unk"],
    ["not-an-email", "Bad"],
    ["support@neverbounce.com", "Fred again"],
]


class NB:
    """The v4 API of a running emulator, spoken with ``requests``."""

    def __init__(self, emulator: EmulatorHandle, version: str = "v4.2") -> None:
        self.emulator = emulator
        self.base = emulator.base_url("neverbounce")
        self.key = emulator.api_key
        self.version = version

    def url(self, endpoint: str, version: str | None = None) -> str:
        return f"{self.base}/{version or self.version}/{endpoint}"

    def post(self, endpoint: str, version: str | None = None, **params: Any) -> requests.Response:
        """POST with a JSON body carrying the key."""
        return requests.post(self.url(endpoint, version), json={"key": self.key, **params}, timeout=30)

    def get(self, endpoint: str, version: str | None = None, **params: Any) -> requests.Response:
        """GET with the parameters in the query string."""
        return requests.get(self.url(endpoint, version), params={"key": self.key, **params}, timeout=30)

    def ok(self, endpoint: str, version: str | None = None, **params: Any) -> dict[str, Any]:
        response = self.post(endpoint, version, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["status"] == "success", body
        assert isinstance(body["execution_time"], int)
        return body

    def error(self, endpoint: str, version: str | None = None, **params: Any) -> dict[str, Any]:
        response = self.post(endpoint, version, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["status"] != "success", body
        assert isinstance(body["message"], str) and isinstance(body["execution_time"], int)
        return body

    def create(self, rows: list[Any], version: str | None = None, **params: Any) -> int:
        params.setdefault("auto_parse", 1)
        params.setdefault("auto_start", 1)
        body = self.ok("jobs/create", version, input_location="supplied", input=rows, **params)
        assert isinstance(body["job_id"], int)
        return body["job_id"]

    def status(self, job_id: int, version: str | None = None) -> dict[str, Any]:
        return self.ok("jobs/status", version, job_id=job_id)

    def wait(self, job_id: int, *statuses: str, timeout: float = 15, version: str | None = None) -> dict[str, Any]:
        """Poll jobs/status until ``job_status`` is one of ``statuses`` (default: complete or failed)."""
        wanted = statuses or FINAL
        deadline = time.monotonic() + timeout
        while True:
            body = self.status(job_id, version)
            if body["job_status"] in wanted:
                return body
            assert time.monotonic() < deadline, f"job {job_id} stuck in {body['job_status']}"
            time.sleep(0.02)

    def download(self, job_id: int, **params: Any) -> requests.Response:
        return self.get("jobs/download", job_id=job_id, **params)

    def csv_lines(self, job_id: int, **params: Any) -> list[str]:
        params.setdefault("line_feed_type", "LINEFEED_0A")
        response = self.download(job_id, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        text = response.content.decode()
        assert text.endswith("\n") or text == ""
        return text.split("\n")[:-1]


def generated_csv(rows: int, *, header: bool = True, chunk_rows: int = 5000) -> Callable[[], Iterator[bytes]]:
    """A CSV body ``id,email`` generated on the fly, every 10th address invalid."""

    def chunks() -> Iterator[bytes]:
        if header:
            yield b"id,email\n"
        for start in range(0, rows, chunk_rows):
            lines = []
            for index in range(start, min(rows, start + chunk_rows)):
                local = "invalid" if index % 10 == 0 else "user"
                lines.append(f"{index},{local}{index}@example.com\n")
            yield "".join(lines).encode()

    return chunks
