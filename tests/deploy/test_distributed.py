"""make distributed-check's verdicts on where tasks ran (the check itself runs in CI: .ci/run)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from devtools.distributed import TaskRecord, check_placement, window_of

QUEUE = "lead_pipelines_check_abc123"


def record(task_id: str, host: str | None, celery_id: str, state: str = "success", queue: str = QUEUE) -> TaskRecord:
    return TaskRecord("leadconduit_sync", task_id, -1, state, host, queue, celery_id)


LOGS = {"worker-a": "Task execute_workload[id-1] received\nTask execute_workload[id-3] received",
        "worker-b": "Task execute_workload[id-2] received"}


def test_tasks_on_both_workers_through_the_queue_pass():
    records = [record("a", "worker-a", "id-1"), record("b", "worker-b", "id-2"), record("c", "worker-a", "id-3")]
    assert check_placement(records, QUEUE, LOGS) == []


def test_an_idle_worker_fails_the_check():
    problems = check_placement([record("a", "worker-a", "id-1"), record("c", "worker-a", "id-3")], QUEUE, LOGS)
    assert problems == ["no task ran on worker-b"]


def test_a_task_not_run_by_a_check_worker_or_not_in_its_log_fails():
    problems = check_placement([
        record("a", "worker-a", "id-1"),
        record("b", "worker-b", "id-1"),          # the id is in worker-a's log, not worker-b's
        record("c", "laptop", "id-9"),            # LocalExecutor-like: no Celery worker of the check
        record("d", "worker-b", "id-2", state="failed", queue="default"),
    ], QUEUE, LOGS)
    assert problems == [
        "leadconduit_sync.b: its Celery task id is not in worker-b's log",
        "leadconduit_sync.b: its Celery task id is also in worker-a's log",
        "leadconduit_sync.c ran on 'laptop', not on a Celery worker of the check",
        "leadconduit_sync.d ended failed",
        f"leadconduit_sync.d went through queue 'default', not {QUEUE!r}",
    ]


def test_no_task_instances_fail_the_check():
    assert check_placement([], QUEUE, LOGS) == ["no task instances recorded"]


def test_windows_are_aligned_as_the_schedules_are():
    instant = datetime(2024, 6, 1, 10, 30, tzinfo=timezone.utc)
    assert window_of(timedelta(hours=1), instant) == (datetime(2024, 6, 1, 10, tzinfo=timezone.utc),
                                                      datetime(2024, 6, 1, 11, tzinfo=timezone.utc))
    assert window_of(timedelta(days=1), instant) == (datetime(2024, 6, 1, tzinfo=timezone.utc),
                                                     datetime(2024, 6, 2, tzinfo=timezone.utc))
