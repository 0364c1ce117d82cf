# Licensed under the Apache License, Version 2.0.
"""EmailVerificationJobTrigger run directly on an event loop against the emulator over real HTTP."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_emailverify.triggers.job import EmailVerificationJobTrigger
from tests.operators._dagrun import KNOWN_LIST

pytestmark = pytest.mark.usefixtures("emulator_connections")


def hook_for(conn_type: str):
    from airflow_provider_emailverify.hooks.base import hook_for_connection

    return hook_for_connection(f"{conn_type}_default")


def submit(conn_type: str, emails=KNOWN_LIST) -> str:
    return hook_for(conn_type).submit_job([{"email": e} for e in emails], name=f"trigger-test-{time.time_ns()}")


def make_trigger(vendor: str, job_ids, *, wait: float = 30, **kwargs) -> EmailVerificationJobTrigger:
    kwargs.setdefault("conn_type", vendor)
    trigger = EmailVerificationJobTrigger(
        conn_id=f"{vendor}_default", job_ids=job_ids, poll_interval=0.05, end_time=time.time() + wait, **kwargs
    )
    # What the triggerer does: rebuild the trigger from its serialized form.
    classpath, kwargs = trigger.serialize()
    from airflow.sdk._shared.module_loading import import_string

    return import_string(classpath)(**json.loads(json.dumps(kwargs)))


async def events_of(trigger: EmailVerificationJobTrigger) -> list[dict]:
    return [event.payload async for event in trigger.run()]


def add_connection(monkeypatch, emulator, conn_type: str, conn_id: str, **extra) -> str:
    """A connection of ``conn_type`` at the emulator with ``extra`` settings."""
    conn = json.loads(emulator.connection_json(conn_type))
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, "extra": extra}))
    return conn_id


async def test_completes_with_one_success_event_despite_faults(emulator_connections, monkeypatch):
    emulator_connections.set_faults(rows_per_second=50)
    job_ids = [submit("neverbounce"), submit("neverbounce")]
    emulator_connections.set_faults(error_rate=0.2, throttle_rate=0.1, disconnect_rate=0.05, seed=7)
    # Short client backoff keeps the test quick; throttling still waits the vendor's Retry-After.
    conn_id = add_connection(monkeypatch, emulator_connections, "neverbounce", "neverbounce_faulty", backoff_max=0.2)
    started = time.monotonic()

    trigger = EmailVerificationJobTrigger(
        conn_id=conn_id, conn_type="neverbounce", job_ids=job_ids, poll_interval=0.05, end_time=time.time() + 60
    )
    events = await events_of(trigger)

    assert len(events) == 1, events
    (event,) = events
    assert event["status"] == "success", event
    assert event["job_ids"] == job_ids
    assert [job["state"] for job in event["jobs"]] == ["completed", "completed"]
    assert [job["job_id"] for job in event["jobs"]] == job_ids
    assert time.monotonic() - started < 45
    stats = emulator_connections.stats()
    assert sum(stats["faults"].values()) > 0  # faults did hit it, and were ridden out


@pytest.mark.parametrize("conn_type", ["neverbounce", "bouncer"])
async def test_success_event_per_vendor(conn_type, emulator_connections):
    emulator_connections.set_faults(rows_per_second=1_000_000)
    job_id = submit(conn_type)
    (event,) = await events_of(make_trigger(conn_type, [job_id]))
    assert event["status"] == "success"
    assert event["jobs"][0]["total"] == len(KNOWN_LIST)


async def test_reads_the_vendor_from_the_connection_when_not_told(emulator_connections):
    emulator_connections.set_faults(rows_per_second=1_000_000)
    job_id = submit("bouncer")
    (event,) = await events_of(make_trigger("bouncer", [job_id], conn_type=None))
    assert event["status"] == "success"


def test_serialized_kwargs_are_json_without_secrets(emulator_connections):
    trigger = EmailVerificationJobTrigger(
        conn_id="neverbounce_default", conn_type="neverbounce", job_ids=["12", "13"], poll_interval=5, end_time=1e9
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_emailverify.triggers.job.EmailVerificationJobTrigger"
    text = json.dumps(kwargs)  # plain JSON: no object, no client
    assert emulator_connections.api_key not in text
    assert not {"api_key", "key", "token", "password", "secret"} & set(kwargs)
    assert sorted(kwargs) == sorted(
        [
            "conn_id", "job_ids", "poll_interval", "end_time", "conn_type",
            "max_poll_interval", "max_consecutive_errors", "cancel_on_kill",
        ]
    )
    assert EmailVerificationJobTrigger(**json.loads(text)).serialize() == (classpath, kwargs)


async def test_times_out_with_one_event_and_leaves_the_job_alone(emulator_connections):
    emulator_connections.set_faults(rows_per_second=1)
    job_id = submit("neverbounce")
    events = await events_of(make_trigger("neverbounce", [job_id], wait=0.5))
    assert [event["status"] for event in events] == ["timeout"]
    assert job_id in events[0]["message"]
    # Cancelling on timeout is the operator's decision, not the trigger's.
    assert hook_for("neverbounce").get_job(job_id).state in ("queued", "running")


async def test_a_failed_job_ends_with_the_vendors_reason(emulator_connections):
    emulator_connections.set_faults(rows_per_second=1_000_000, fail_jobs=1.0)
    job_id = submit("neverbounce")
    (event,) = await events_of(make_trigger("neverbounce", [job_id]))
    assert event["status"] == "failed"
    assert event["message"].startswith(f"job {job_id} failed (")


async def test_an_unknown_job_is_an_error_not_a_wait(emulator_connections):
    (event,) = await events_of(make_trigger("neverbounce", ["987654321"]))
    assert event["status"] == "error"
    assert "987654321" in event["message"] or "not found" in event["message"].lower()


async def test_keeps_failing_polls_bounded(emulator_connections, monkeypatch):
    emulator_connections.set_faults(rows_per_second=1)
    job_id = submit("neverbounce")
    emulator_connections.set_faults(error_rate=1.0)
    # One try per call, so that the trigger's own budget is what is tested.
    conn_id = add_connection(monkeypatch, emulator_connections, "neverbounce", "neverbounce_flaky", max_retries=1)
    trigger = EmailVerificationJobTrigger(
        conn_id=conn_id, conn_type="neverbounce", job_ids=[job_id],
        poll_interval=0.01, end_time=time.time() + 60, max_consecutive_errors=3,
    )
    (event,) = await events_of(trigger)
    assert event["status"] == "error"
    assert event["message"].startswith("3 polls in a row failed")


async def test_on_kill_tries_to_cancel_the_remote_jobs(emulator_connections, capfd):
    """Airflow 3.3 calls it when a user marks the deferred task failed; NeverBounce refuses to delete a running job."""
    emulator_connections.set_faults(rows_per_second=1)
    job_ids = [submit("neverbounce"), submit("neverbounce")]
    await make_trigger("neverbounce", job_ids).on_kill()
    assert emulator_connections.stats()["requests"]["neverbounce"]["/v4.2/jobs/delete"] == 2
    assert "".join(capfd.readouterr()).count("Could not cancel neverbounce job") == 2


async def test_on_kill_leaves_bouncer_batches_running(emulator_connections, capfd):
    """Bouncer's cancel completes a batch with partial results, which a retry would reattach to as whole."""
    emulator_connections.set_faults(rows_per_second=1)
    job_ids = [submit("bouncer"), submit("bouncer")]
    await make_trigger("bouncer", job_ids).on_kill()
    assert "/v1.1/email/verify/batch/{batchId}/finish" not in emulator_connections.stats()["requests"]["bouncer"]
    assert not any(hook_for("bouncer").get_job(job_id).is_terminal for job_id in job_ids)
    assert f"bouncer job(s) {', '.join(job_ids)} left running" in "".join(capfd.readouterr())


async def test_on_kill_leaves_jobs_it_does_not_own(emulator_connections):
    emulator_connections.set_faults(rows_per_second=1)
    job_id = submit("neverbounce")
    await make_trigger("neverbounce", [job_id], cancel_on_kill=False).on_kill()
    assert job_state_or_deleted("neverbounce", job_id) in ("queued", "running")


def job_state_or_deleted(conn_type: str, job_id: str) -> str:
    from airflow_provider_emailverify.exceptions import JobNotFoundError

    try:
        return str(hook_for(conn_type).get_job(job_id).state)
    except JobNotFoundError:
        return "deleted"
