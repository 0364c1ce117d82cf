# Licensed under the Apache License, Version 2.0.
"""EmailVerificationJobSensor in poke, reschedule and deferrable modes under ``dag.test()``."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_emailverify.sensors.job import EmailVerificationJobSensor
from tests.operators._dagrun import KNOWN_LIST, make_dag, run_dag, task_state, xcoms

pytestmark = pytest.mark.usefixtures("emulator_connections")

MODES = [
    pytest.param({"mode": "poke"}, id="poke"),
    pytest.param({"mode": "reschedule"}, id="reschedule"),
    pytest.param({"deferrable": True}, id="deferrable"),
]


def hook_for(conn_type: str):
    from airflow_provider_emailverify.hooks.base import hook_for_connection

    return hook_for_connection(f"{conn_type}_default")


def submit(conn_type: str) -> str:
    return hook_for(conn_type).submit_job([{"email": e} for e in KNOWN_LIST], name=f"sensor-test-{time.time_ns()}")


def sensor(conn_type: str, job_ids, **kwargs) -> EmailVerificationJobSensor:
    kwargs.setdefault("deferrable", False)
    return EmailVerificationJobSensor(
        task_id="wait", conn_id=f"{conn_type}_default", job_ids=job_ids, poke_interval=0.2, timeout=30, **kwargs
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("conn_type", ["neverbounce", "bouncer"])
def test_waits_until_the_jobs_complete(conn_type, mode, emulator_connections, request):
    emulator_connections.set_faults(rows_per_second=15)  # about half a second a job
    job_ids = [submit(conn_type), submit(conn_type)]
    with make_dag(request.node.name) as dag:
        sensor(conn_type, json.dumps(job_ids), **mode)  # a JSON string, as a template renders it
    dagrun = run_dag(dag)

    assert task_state(dagrun, "wait") == "success"
    assert xcoms(dagrun, "wait")["return_value"] == {
        "vendor": conn_type,
        "job_ids": job_ids,
        "state": "completed",
        "total": 2 * len(KNOWN_LIST),
    }
    for job_id in job_ids:
        assert hook_for(conn_type).get_job(job_id).state == "completed"


@pytest.mark.parametrize("mode", MODES)
def test_fails_when_a_job_fails(mode, emulator_connections, request, capfd):
    emulator_connections.set_faults(rows_per_second=1_000_000, fail_jobs=1.0)
    job_id = submit("neverbounce")
    with make_dag(request.node.name) as dag:
        sensor("neverbounce", str([job_id]), **mode)  # a Python literal string works too
    dagrun = run_dag(dag)

    assert task_state(dagrun, "wait") == "failed"
    assert f"neverbounce verification failed: job {job_id} failed" in "".join(capfd.readouterr())


@pytest.mark.parametrize("mode", MODES)
def test_times_out_without_cancelling(mode, emulator_connections, request):
    emulator_connections.set_faults(rows_per_second=1)
    job_id = submit("neverbounce")
    with make_dag(request.node.name) as dag:
        EmailVerificationJobSensor(
            task_id="wait", conn_id="neverbounce_default", job_ids=[job_id], poke_interval=0.2, timeout=1, **mode
        )
    dagrun = run_dag(dag)

    assert task_state(dagrun, "wait") == "failed"
    # The sensor only watches: the job it did not submit keeps running.
    assert hook_for("neverbounce").get_job(job_id).state in ("queued", "running")


def test_reads_the_job_ids_from_the_operators_summary(emulator_connections, request):
    emulator_connections.set_faults(rows_per_second=1_000_000)
    from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

    with make_dag(request.node.name, render_template_as_native_obj=True) as dag:
        submit_task = EmailVerificationOperator(
            task_id="verify", conn_id="bouncer_default", emails=KNOWN_LIST, wait_for_completion=False
        )
        wait = sensor("bouncer", "{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}", deferrable=True)
        submit_task >> wait
    dagrun = run_dag(dag)

    assert task_state(dagrun, "wait") == "success"
    assert xcoms(dagrun, "wait")["return_value"]["job_ids"] == xcoms(dagrun, "verify")["job_ids"]


@pytest.mark.parametrize("mode", MODES)
def test_soft_fail_skips_on_a_failed_job(mode, emulator_connections, request):
    emulator_connections.set_faults(rows_per_second=1_000_000, fail_jobs=1.0)
    job_id = submit("neverbounce")
    with make_dag(request.node.name) as dag:
        sensor("neverbounce", [job_id], soft_fail=True, **mode)
    assert task_state(run_dag(dag), "wait") == "skipped"


@pytest.mark.parametrize("mode", MODES)
def test_an_empty_input_does_not_fail_the_run(mode, emulator_connections, request):
    """A day whose list holds no address: the operator creates no job, the sensor has nothing to wait on."""
    from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

    with make_dag(request.node.name, render_template_as_native_obj=True) as dag:
        submit_task = EmailVerificationOperator(
            task_id="verify", conn_id="bouncer_default", emails=[], wait_for_completion=False
        )
        wait = sensor("bouncer", "{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}", **mode)
        submit_task >> wait
    dagrun = run_dag(dag)
    assert task_state(dagrun, "wait") == "success"
    assert xcoms(dagrun, "wait")["return_value"] == {
        "vendor": "bouncer", "job_ids": [], "state": "completed", "total": 0
    }
    assert emulator_connections.stats()["jobs_created"].get("bouncer", 0) == 0


def test_job_ids_of_a_mapped_verify_task_are_flattened(emulator_connections, request):
    first, second = submit("neverbounce"), submit("neverbounce")
    with make_dag(request.node.name) as dag:
        sensor("neverbounce", str([[first], {"job_ids": [second]}]))
    dagrun = run_dag(dag)
    assert task_state(dagrun, "wait") == "success"
    assert xcoms(dagrun, "wait")["return_value"]["job_ids"] == [first, second]
