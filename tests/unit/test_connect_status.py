"""Reading Connect's status: RUNNING only when connector and every task run."""

from __future__ import annotations

from stack.connect import parse_status


def _body(connector: str, *tasks: tuple[str, str]) -> dict[str, object]:
    return {
        "name": "orders-outbox",
        "connector": {"state": connector, "worker_id": "w"},
        "tasks": [{"id": i, "state": s, "trace": t} for i, (s, t) in enumerate(tasks)],
    }


def test_running_needs_connector_and_all_tasks() -> None:
    assert parse_status(_body("RUNNING", ("RUNNING", ""))).running
    assert not parse_status(_body("RUNNING")).running  # tasks not assigned yet
    assert not parse_status(_body("RUNNING", ("RUNNING", ""), ("PAUSED", ""))).running


def test_failed_task_is_failed_and_keeps_its_trace() -> None:
    status = parse_status(_body("RUNNING", ("FAILED", "org.postgresql.util.PSQLException: x")))
    assert status.failed
    assert status.tasks[0][2].startswith("org.postgresql")
    assert status.describe() == "orders-outbox: connector RUNNING, task 0 FAILED"
