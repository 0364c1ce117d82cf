# Licensed under the Apache License, Version 2.0.
"""EmailVerificationOperator end to end under ``dag.test()``, against the emulator over real HTTP."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest

from airflow_provider_emailverify.operators.verify import STATE_KEY, EmailVerificationOperator
from tests.operators._dagrun import KNOWN_COUNTS, KNOWN_LIST, make_dag, run_dag, task_state, task_try_number, xcoms

pytestmark = pytest.mark.usefixtures("emulator_connections")

FAST = {"rows_per_second": 1_000_000}
#: (connection type, whether the vendor can search its jobs by name)
VENDORS = [pytest.param("neverbounce", id="neverbounce"), pytest.param("bouncer", id="bouncer")]


def hook_for(conn_type: str):
    from airflow_provider_emailverify.hooks.base import hook_for_connection

    return hook_for_connection(f"{conn_type}_default")


def verify_task(conn_type: str, **kwargs) -> EmailVerificationOperator:
    kwargs.setdefault("emails", KNOWN_LIST)
    kwargs.setdefault("poll_interval", 0.1)
    return EmailVerificationOperator(task_id="verify", conn_id=f"{conn_type}_default", **kwargs)


def failure_text(capfd: pytest.CaptureFixture) -> str:
    """What the task printed (``dag.test()`` prints the task's log and the error that failed it)."""
    out, err = capfd.readouterr()
    return out + err


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "polling"])
@pytest.mark.parametrize("conn_type", VENDORS)
def test_verifies_a_list_end_to_end(conn_type, deferrable, emulator_connections, request):
    emulator_connections.set_faults(rows_per_second=20)  # still running at the first check
    with make_dag(request.node.name) as dag:
        verify_task(conn_type, deferrable=deferrable)
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    values = xcoms(dagrun, "verify")
    summary = values["return_value"]
    assert summary == {
        "vendor": conn_type,
        "job_ids": values["job_ids"],
        "state": "completed",
        "total": len(KNOWN_LIST),
        "counts": KNOWN_COUNTS,
    }
    assert len(summary["job_ids"]) == 1
    assert values["vendor"] == conn_type
    assert emulator_connections.stats()["jobs_created"] == {conn_type: 1}
    # The extra link: the vendor's dashboard page of the job, worked out at run time.
    expected_url = hook_for(conn_type).dashboard_url(summary["job_ids"][0])
    assert values.get("_link_EmailVerificationJobLink", "") == (expected_url or "")
    if conn_type == "neverbounce":
        assert expected_url and summary["job_ids"][0] in expected_url


@pytest.mark.parametrize("conn_type", ["neverbounce_v3", "bouncify", "emailverifierapp"])
def test_other_vendors_end_to_end(conn_type, emulator_connections, request):
    """
    The same operator, a different connection: the vendor switch is a conn_id change. The counts
    are the same whichever vendor (Bouncify's job counters call a disposable address deliverable,
    so its results are counted instead).
    """
    emulator_connections.set_faults(rows_per_second=20)
    with make_dag(request.node.name) as dag:
        verify_task(conn_type, deferrable=True)
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    summary = xcoms(dagrun, "verify")["return_value"]
    assert (summary["vendor"], summary["state"], summary["counts"]) == (conn_type, "completed", KNOWN_COUNTS)


def test_splits_a_list_into_several_jobs_tracked_as_one(emulator_connections, request):
    emulator_connections.set_faults(**FAST)
    with make_dag(request.node.name) as dag:
        verify_task("neverbounce", max_job_size=3, deferrable=True)
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    summary = xcoms(dagrun, "verify")["return_value"]
    assert len(summary["job_ids"]) == 3  # 7 addresses, at most 3 a job
    assert summary["counts"] == KNOWN_COUNTS
    assert summary["total"] == len(KNOWN_LIST)
    assert emulator_connections.stats()["jobs_created"] == {"neverbounce": 3}


def test_rows_per_job_of_the_connection_split_the_list(emulator_connections, request, monkeypatch):
    """Email Verifier App publishes no job size limit: the connection's max_rows_per_job extra sets it."""
    emulator_connections.set_faults(**FAST)
    conn = json.loads(emulator_connections.connection_json("emailverifierapp"))
    monkeypatch.setenv("AIRFLOW_CONN_EMAILVERIFIERAPP_DEFAULT", json.dumps({**conn, "extra": {"max_rows_per_job": 4}}))
    with make_dag(request.node.name) as dag:
        verify_task("emailverifierapp")
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    summary = xcoms(dagrun, "verify")["return_value"]
    assert len(summary["job_ids"]) == 2 and summary["counts"] == KNOWN_COUNTS  # 7 addresses, at most 4 a job
    assert emulator_connections.stats()["jobs_created"] == {"emailverifierapp": 2}


class DiesAfterSubmitting(EmailVerificationOperator):
    """The first try's worker dies right after the vendor accepted the jobs."""

    def _submit_all(self, context, hook):
        job_ids = super()._submit_all(context, hook)
        if context["ti"].try_number == 1:
            raise RuntimeError("worker lost after submitting")
        return job_ids


@pytest.mark.parametrize("conn_type", VENDORS)
def test_a_retry_reattaches_instead_of_paying_again(conn_type, emulator_connections, request):
    """NeverBounce finds its jobs by name; Bouncer cannot search, the task state store remembers."""
    emulator_connections.set_faults(**FAST)
    with make_dag(request.node.name) as dag:
        DiesAfterSubmitting(
            task_id="verify", conn_id=f"{conn_type}_default", emails=KNOWN_LIST, max_job_size=4,
            poll_interval=0.1, retries=1, retry_delay=timedelta(0),
        )
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    assert task_try_number(dagrun, "verify") == 2
    summary = xcoms(dagrun, "verify")["return_value"]
    assert len(summary["job_ids"]) == 2
    assert summary["counts"] == KNOWN_COUNTS
    # Each of the two vendor jobs was created once, across both tries.
    assert emulator_connections.stats()["jobs_created"] == {conn_type: 2}
    if conn_type == "neverbounce":  # a first try has nothing to look for; then the state store answered
        assert "/v4.2/jobs/search" not in emulator_connections.stats()["requests"]["neverbounce"]


def test_a_vendor_that_can_search_reattaches_without_the_state_store(emulator_connections, request):
    """The job name alone is enough where the vendor searches (Airflow < 3.3, or a lost store write)."""
    emulator_connections.set_faults(**FAST)

    class ForgetsTheStore(DiesAfterSubmitting):
        def _save_state(self, store, hook, known):
            return None

    with make_dag(request.node.name) as dag:
        ForgetsTheStore(
            task_id="verify", conn_id="neverbounce_default", emails=KNOWN_LIST,
            poll_interval=0.1, retries=1, retry_delay=timedelta(0),
        )
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    assert emulator_connections.stats()["jobs_created"] == {"neverbounce": 1}
    assert emulator_connections.stats()["requests"]["neverbounce"]["/v4.2/jobs/search"] == 1  # by the retry


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "polling"])
def test_timeout_cancels_the_remote_job_and_fails(deferrable, emulator_connections, request, capfd):
    """Bouncer's cancel is "finish early": the batch stops, unverified addresses are refunded."""
    emulator_connections.set_faults(rows_per_second=1)  # 7 addresses: far longer than the timeout
    with make_dag(request.node.name) as dag:
        verify_task("bouncer", deferrable=deferrable, timeout=1.5)
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    (job_id,) = xcoms(dagrun, "verify")["job_ids"]
    assert f"bouncer job(s) {job_id} did not finish within the timeout of 1.5s; cancelled: {job_id}" in (
        failure_text(capfd)
    )
    requests = emulator_connections.stats()["requests"]["bouncer"]
    assert requests["/v1.1/email/verify/batch/{batchId}/finish"] == 1
    assert hook_for("bouncer").get_job(job_id).is_terminal  # stopped, no longer spending


def test_timeout_names_a_job_the_vendor_cannot_stop(emulator_connections, request, capfd):
    """NeverBounce runs cannot be stopped, and it refuses to delete a job while it is parsed or run."""
    emulator_connections.set_faults(rows_per_second=1)
    with make_dag(request.node.name) as dag:
        verify_task("neverbounce", deferrable=True, timeout=1)
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    (job_id,) = xcoms(dagrun, "verify")["job_ids"]
    text = failure_text(capfd)
    assert f"neverbounce job(s) {job_id} did not finish within the timeout of 1s; cancelled: none; could not cancel: {job_id} (" in text
    assert "This job is not in a state which can be deleted" in text
    assert emulator_connections.stats()["requests"]["neverbounce"]["/v4.2/jobs/delete"] == 1


def test_a_retry_after_a_timeout_submits_anew(emulator_connections, request):
    """A batch cancelled on timeout is forgotten: the retry must not reattach to the stopped batch."""
    emulator_connections.set_faults(rows_per_second=1)
    with make_dag(request.node.name) as dag:
        verify_task("bouncer", timeout=1, retries=1, retry_delay=timedelta(0))
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    assert task_try_number(dagrun, "verify") == 2
    assert emulator_connections.stats()["jobs_created"] == {"bouncer": 2}
    assert emulator_connections.stats()["requests"]["bouncer"]["/v1.1/email/verify/batch/{batchId}/finish"] == 2


def test_execution_timeout_while_polling_cancels_the_job(emulator_connections, request, capfd):
    emulator_connections.set_faults(rows_per_second=1)
    with make_dag(request.node.name) as dag:
        verify_task("bouncer", timeout=60, execution_timeout=timedelta(seconds=2))
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    (job_id,) = xcoms(dagrun, "verify")["job_ids"]
    assert emulator_connections.stats()["requests"]["bouncer"]["/v1.1/email/verify/batch/{batchId}/finish"] >= 1
    assert hook_for("bouncer").get_job(job_id).is_terminal
    assert f"Cancelling bouncer job(s) {job_id} after execution_timeout" in failure_text(capfd)


def test_on_kill_tries_to_cancel_the_jobs_it_submitted(emulator_connections, capfd):
    """What the worker calls on SIGTERM; Email Verifier App cannot cancel, and the log says so."""
    emulator_connections.set_faults(rows_per_second=1)
    operator = verify_task("emailverifierapp")
    job_id = operator.hook.submit_job([{"email": e} for e in KNOWN_LIST], name="killed")
    operator._job_ids = [job_id]  # what execute had recorded when the signal came

    operator.on_kill()
    operator.on_kill()  # a second signal changes nothing

    lines = [line for line in "".join(capfd.readouterr()).splitlines() if "ancel" in line]
    assert len(lines) == 2
    assert f"Task killed: cancelling emailverifierapp job(s) {job_id}" in lines[0]
    assert f"Could not cancel emailverifierapp job {job_id}: emailverifierapp job {job_id} cannot be cancelled" in lines[1]
    assert "it keeps running" in lines[1]


def test_on_kill_leaves_a_bouncer_batch_running(emulator_connections, capfd):
    """Finishing it early would complete it with partial results that a retry would take as whole."""
    emulator_connections.set_faults(rows_per_second=1)
    operator = verify_task("bouncer")
    job_id = operator.hook.submit_job([{"email": e} for e in KNOWN_LIST], name="killed")
    operator._job_ids = [job_id]

    operator.on_kill()

    assert not hook_for("bouncer").get_job(job_id).is_terminal
    assert "/v1.1/email/verify/batch/{batchId}/finish" not in emulator_connections.stats()["requests"]["bouncer"]
    text = "".join(capfd.readouterr())
    assert f"bouncer job(s) {job_id} left running" in text
    assert "BouncerHook(conn_id='bouncer_default').finish_job(job_id)" in text


def test_an_uncertain_creation_fails_without_a_retry_that_could_pay_twice(emulator_connections, request, capfd):
    """Bouncer cannot search: when the answer to a batch creation is lost, a retry could pay again."""
    emulator_connections.set_faults(disconnect_rate=1.0, seed=3, **FAST)
    with make_dag(request.node.name) as dag:
        verify_task("bouncer", retries=2, retry_delay=timedelta(0))
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    assert task_try_number(dagrun, "verify") == 1
    assert emulator_connections.stats()["jobs_created"] == {"bouncer": 1}
    text = failure_text(capfd)
    assert "may have been created" in text and "not retried" in text


def test_a_bouncify_list_whose_start_is_uncertain_fails_once_and_names_the_list(
    emulator_connections, request, capfd, monkeypatch
):
    """
    Bouncify uploads, then starts (pays for) the list. The start's answer is lost and Bouncify
    stops answering: the task fails without a retry that would upload and pay for a second list,
    and names the list, which can still be waited on.
    """
    from tests.clients.cutting_proxy import DROP, DROP_ANSWER, RELAY, CuttingProxy

    emulator_connections.set_faults(**FAST)
    emulator_connections.set_option("bouncify", prepare_seconds=0)
    cut = {"started": False}

    def rule(method: str, path: str) -> str:
        if cut["started"]:
            return DROP
        if method == "PATCH" and "/v1/bulk/" in path:
            cut["started"] = True
            return DROP_ANSWER
        return RELAY

    with CuttingProxy(emulator_connections.url, rule) as proxy:
        monkeypatch.setenv("AIRFLOW_CONN_BOUNCIFY_DEFAULT", json.dumps({
            "conn_type": "bouncify", "host": proxy.url + "/bouncify", "password": emulator_connections.api_key,
            "extra": {"max_retries": 5, "backoff_max": 0.05},
        }))
        with make_dag(request.node.name) as dag:
            verify_task("bouncify", retries=2, retry_delay=timedelta(0))
        dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    assert task_try_number(dagrun, "verify") == 1
    assert emulator_connections.stats()["jobs_created"] == {"bouncify": 1}
    text = failure_text(capfd)
    found = re.search(r"bouncify list (\w+) was uploaded, but starting it \(the paid step\) failed", text)
    assert found, text[-3000:]
    job_id = found.group(1)
    assert f"EmailVerificationJobSensor(job_ids=['{job_id}'])" in text and "not retried" in text
    monkeypatch.setenv("AIRFLOW_CONN_BOUNCIFY_DEFAULT", emulator_connections.connection_json("bouncify"))
    assert hook_for("bouncify").get_job(job_id).state in ("running", "completed")


def test_repeats_merged_by_bouncer_are_in_the_task_log(emulator_connections, request, caplog):
    """Bouncer returns one row per distinct address: the task log says how many repeats were merged."""
    emulator_connections.set_faults(**FAST)
    with make_dag(request.node.name) as dag:
        verify_task("bouncer", emails=[*KNOWN_LIST, KNOWN_LIST[0], KNOWN_LIST[0].upper()])
    with caplog.at_level(logging.WARNING, logger="airflow_provider_emailverify.clients.bouncer"):
        dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    summary = xcoms(dagrun, "verify")["return_value"]
    assert (summary["total"], summary["counts"]) == (len(KNOWN_LIST) + 2, KNOWN_COUNTS)
    (job_id,) = summary["job_ids"]
    note = "2 repeated addresses are merged by Bouncer: results hold one row per distinct address"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"bouncer batch {job_id}: {note}"]
    assert hook_for("bouncer").get_job(job_id).message == note


def test_quality_gate_fails_the_task_with_the_figures(emulator_connections, request, capfd):
    emulator_connections.set_faults(**FAST)
    with make_dag(request.node.name) as dag:
        verify_task("neverbounce", max_undeliverable_ratio=0.25, retries=2, retry_delay=timedelta(0))
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    assert task_try_number(dagrun, "verify") == 1  # a verdict does not change on retry
    assert "2 of 7 addresses (28.6%) are undeliverable, above max_undeliverable_ratio=0.25 (25.0%)" in (
        failure_text(capfd)
    )


def test_quality_gate_passes_within_the_bound(emulator_connections, request):
    emulator_connections.set_faults(**FAST)
    with make_dag(request.node.name) as dag:
        verify_task("bouncer", max_undeliverable_ratio=0.3)
    assert task_state(run_dag(dag), "verify") == "success"


def test_a_failed_vendor_job_fails_the_task_with_the_reason(emulator_connections, request, capfd):
    emulator_connections.set_faults(fail_jobs=1.0, **FAST)
    with make_dag(request.node.name) as dag:
        verify_task("neverbounce", deferrable=True)
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "failed"
    (job_id,) = xcoms(dagrun, "verify")["job_ids"]
    assert f"neverbounce verification failed: job {job_id} failed (" in failure_text(capfd)


def test_without_waiting_returns_right_after_submitting(emulator_connections, request):
    emulator_connections.set_faults(rows_per_second=1)
    with make_dag(request.node.name) as dag:
        verify_task("neverbounce", wait_for_completion=False)
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    summary = xcoms(dagrun, "verify")["return_value"]
    assert summary["state"] in ("queued", "running")
    assert summary["job_ids"] == xcoms(dagrun, "verify")["job_ids"]
    assert hook_for("neverbounce").get_job(summary["job_ids"][0]).state in ("queued", "running")


class RecordsXComBeforeWaiting(EmailVerificationOperator):
    """Reads the job ids back from XCom (through the API, as a downstream task would) when waiting starts."""

    seen: list = []

    def _wait(self, hook, job_ids):
        from airflow.sdk import get_current_context

        RecordsXComBeforeWaiting.seen.append(get_current_context()["ti"].xcom_pull(task_ids="verify", key="job_ids"))
        return super()._wait(hook, job_ids)

    def defer(self, **kwargs):
        from airflow.sdk import get_current_context

        RecordsXComBeforeWaiting.seen.append(get_current_context()["ti"].xcom_pull(task_ids="verify", key="job_ids"))
        super().defer(**kwargs)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "polling"])
def test_job_ids_reach_xcom_before_waiting(deferrable, emulator_connections, request):
    emulator_connections.set_faults(rows_per_second=20)
    RecordsXComBeforeWaiting.seen = []
    with make_dag(request.node.name) as dag:
        RecordsXComBeforeWaiting(
            task_id="verify", conn_id="neverbounce_default", emails=KNOWN_LIST, poll_interval=0.1, deferrable=deferrable
        )
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    job_ids = xcoms(dagrun, "verify")["return_value"]["job_ids"]
    assert RecordsXComBeforeWaiting.seen == [job_ids]


def test_job_ids_are_kept_in_the_task_state_store(emulator_connections, request):
    emulator_connections.set_faults(**FAST)
    with make_dag(request.node.name) as dag:
        verify_task("bouncer")
    dagrun = run_dag(dag)

    from airflow._shared.state import TaskScope
    from airflow.state import get_state_backend
    from airflow.utils.session import create_session

    scope = TaskScope(dag_id=dagrun.dag_id, run_id=dagrun.run_id, task_id="verify", map_index=-1)
    with create_session() as session:
        import json

        stored = json.loads(get_state_backend().get(scope, STATE_KEY, session=session))
    assert stored["vendor"] == "bouncer"
    assert list(stored["jobs"].values()) == xcoms(dagrun, "verify")["job_ids"]


def test_empty_input_creates_no_job(emulator_connections, request):
    with make_dag(request.node.name) as dag:
        verify_task("neverbounce", emails=[])
    dagrun = run_dag(dag)

    assert task_state(dagrun, "verify") == "success"
    assert xcoms(dagrun, "verify")["return_value"] == {
        "vendor": "neverbounce",
        "job_ids": [],
        "state": "completed",
        "total": 0,
        "counts": {"deliverable": 0, "risky": 0, "undeliverable": 0, "unknown": 0},
    }
    assert emulator_connections.stats()["jobs_created"] == {}


def test_operator_refuses_ambiguous_input():
    with pytest.raises(ValueError, match="exactly one of emails, source or sql"):
        EmailVerificationOperator(task_id="v", conn_id="neverbounce_default", emails=["a@b.c"], sql="select 1")
    with pytest.raises(ValueError, match="max_undeliverable_ratio"):
        EmailVerificationOperator(task_id="v", conn_id="neverbounce_default", emails=["a@b.c"], max_undeliverable_ratio=2)
