"""The Celery app of the tests: a Redis broker on 127.0.0.1, two tasks.

The test process imports it to enqueue; ``celery -A tests.jobs._celery_app worker``
runs it in a worker process, where ``JOBS_TEST_WORKER=1`` makes it call
``instrumentors.setup()`` (exporting over OTLP to the test's receiver).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from opentelemetry import baggage

import instrumentors

PORT = os.environ.get("AGENT_INSTRUMENTORS_TEST_REDIS_PORT", "6379")
URL = f"redis://127.0.0.1:{PORT}/{os.environ.get('JOBS_TEST_REDIS_DB', '11')}"

app = Celery("jobs_test", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue="jobs-test",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

if os.environ.get("JOBS_TEST_WORKER") == "1":
    HANDLE = instrumentors.setup(service_name="celery-worker")


@app.task(name="tests.summarise")
def summarise(text: str) -> dict[str, Any]:
    """Work under the task's span; report the baggage the task was given."""
    with instrumentors.agent_step("summarise-text"):
        return {"summary": text.upper(), "baggage": dict(baggage.get_all())}


@app.task(name="tests.fails")
def fails() -> None:
    raise ValueError("the task failed")
