# Licensed under the Apache License, Version 2.0.
"""
EmailVerificationOperator run again for the same task instance, under ``dag.test()`` against the
emulator: a retry after a failure reattaches to the jobs it already paid for, but a task cleared
after it succeeded verifies its (possibly changed) input again.
"""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator
from tests.operators._dagrun import KNOWN_COUNTS, KNOWN_LIST, make_dag, run_dag, task_state, task_try_number, xcoms

pytestmark = pytest.mark.usefixtures("emulator_connections")

FAST = {"rows_per_second": 1_000_000}


def verify_dag(name: str, conn_type: str, emails: list[str]):
    with make_dag(name) as dag:
        EmailVerificationOperator(
            task_id="verify", conn_id=f"{conn_type}_default", emails=emails, poll_interval=0.1, deferrable=False
        )
    return dag


def clear_and_run_again(dagrun, dag, task_id: str = "verify") -> None:
    """
    What a user's "Clear" of a finished task does, then the scheduler and a worker: the same
    run (and with it the task state store) is kept, the task instance runs its next try.
    ``dag.test()`` cannot show this, as it deletes and recreates the run.
    """
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    from tests.operators._dagrun import sync_dag

    sync_dag(dag)
    with create_session() as session:
        ti = dagrun.get_task_instance(task_id, session=session)
        clear_task_instances([ti], session, dag_run_state=False)
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        session.commit()
    with create_session() as session:
        ti = dagrun.get_task_instance(task_id, session=session)
        _run_task(ti=ti, task=dag.task_dict[task_id], run_triggerer=True)


@pytest.mark.parametrize("conn_type", ["neverbounce", "bouncer"])
def test_a_task_cleared_after_success_verifies_its_input_again(conn_type, emulator_connections, request):
    """The CRM table was fixed and the task cleared: the new list is verified, not last run's job reused."""
    emulator_connections.set_faults(**FAST)
    dagrun = run_dag(verify_dag(request.node.name, conn_type, KNOWN_LIST[:2]))
    assert task_state(dagrun, "verify") == "success"
    assert xcoms(dagrun, "verify")["return_value"]["counts"]["deliverable"] == 2

    clear_and_run_again(dagrun, verify_dag(request.node.name, conn_type, ["invalid.dan@example.com", "bounce.eve@example.com"]))

    assert task_state(dagrun, "verify") == "success"
    assert task_try_number(dagrun, "verify") == 2
    summary = xcoms(dagrun, "verify")["return_value"]
    assert summary["total"] == 2
    assert summary["counts"] == {"deliverable": 0, "risky": 0, "undeliverable": 2, "unknown": 0}
    assert emulator_connections.stats()["jobs_created"] == {conn_type: 2}


class KilledWhileWaiting(EmailVerificationOperator):
    """The first try is killed (SIGTERM: on_kill runs, then the task fails) while its jobs run."""

    def _wait(self, hook, job_ids):
        if self._try_number == 1:
            self.on_kill()
            raise RuntimeError("killed while waiting")
        return super()._wait(hook, job_ids)

    def execute(self, context):
        self._try_number = context["ti"].try_number
        return super().execute(context)


def test_a_killed_bouncer_task_retries_onto_its_whole_batch(emulator_connections, request):
    """The batch is left running on kill, so the retry's results cover every address (none left unknown)."""
    from datetime import timedelta

    emulator_connections.set_faults(rows_per_second=20)
    with make_dag(request.node.name) as dag:
        KilledWhileWaiting(
            task_id="verify", conn_id="bouncer_default", emails=KNOWN_LIST, poll_interval=0.1,
            deferrable=False, retries=1, retry_delay=timedelta(0),
        )
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    assert task_try_number(dagrun, "verify") == 2
    assert xcoms(dagrun, "verify")["return_value"]["counts"] == KNOWN_COUNTS
    stats = emulator_connections.stats()
    assert stats["jobs_created"] == {"bouncer": 1}
    assert "/v1.1/email/verify/batch/{batchId}/finish" not in stats["requests"]["bouncer"]


def test_a_job_the_vendor_cannot_cancel_is_named_and_reused_by_the_retry(emulator_connections, request, capfd):
    """Email Verifier App has no cancel: the timeout says so, and the retry waits on the paid job."""
    from datetime import timedelta

    emulator_connections.set_faults(rows_per_second=3)  # 7 addresses: about 2.5 s
    with make_dag(request.node.name) as dag:
        EmailVerificationOperator(
            task_id="verify", conn_id="emailverifierapp_default", emails=KNOWN_LIST, poll_interval=0.1,
            deferrable=False, timeout=1, retries=1, retry_delay=timedelta(seconds=3),
        )
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    (job_id,) = xcoms(dagrun, "verify")["return_value"]["job_ids"]
    text = "".join(capfd.readouterr())
    assert f"did not finish within the timeout of 1s; cancelled: none; could not cancel: {job_id} (" in text
    assert "it keeps running" in text
    assert emulator_connections.stats()["jobs_created"] == {"emailverifierapp": 1}
