"""Our part of Celery tracing, next to the official ``opentelemetry-instrumentation-celery``.

The official instrumentation makes the PRODUCER span ``apply_async/{task}`` (its
context goes into the message headers) and the CONSUMER span ``run/{task}``, a
child of it, in the worker: the task sits under the agent's tool call in one
trace. Our receivers of Celery's public signals go around the official ones:

- ``task_prerun``, before the official receiver (connected first): the message's
  trace headers come from whoever enqueued it, so they are cleaned where the
  official receiver reads them (the task's request): malformed or oversized
  values dropped, baggage cut down to the trusted keys (``propagation.extract``).
- ``task_prerun``, after it: the worker's span gets the session id.
- ``before_task_publish``, after the official receiver: when the broker's host is
  outside ``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS``, the trace headers it injected
  are taken back out of the message.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from celery import current_app, signals
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from instrumentors.propagation import extract, host_of, parsed_host_allowed
from instrumentors.session import annotate
from instrumentors.telemetry import guard

_logger = logging.getLogger(__name__)

_CLEAN_GUARD: Final = guard("cleaning a Celery task's trace headers")
_PUBLISH_GUARD: Final = guard("the Celery propagation gate")
_SESSION_GUARD: Final = guard("annotating a Celery task span")
_UID: Final = "instrumentors"
# Transports without a network host (memory://, filesystem://) stay on this machine.
_LOCAL: Final = "localhost"


def _fields() -> tuple[str, ...]:
    return tuple(str(f).lower() for f in propagate.get_global_textmap().fields)


def clean_request(sender: Any = None, task: Any = None, **kwargs: Any) -> None:
    """``task_prerun`` (before the official receiver): clean the incoming trace headers."""
    with _CLEAN_GUARD:
        request = getattr(task, "request", None)
        if request is None:
            return
        fields = _fields()
        carrier = {f: v for f in fields if isinstance(v := getattr(request, f, None), str)}
        if not carrier:
            return
        clean: dict[str, str] = {}
        propagate.inject(clean, context=extract(carrier, Context()))
        for field in fields:
            setattr(request, field, clean.get(field))


def annotate_task(sender: Any = None, task: Any = None, **kwargs: Any) -> None:
    """``task_prerun`` (after the official receiver): the session on the task's span."""
    with _SESSION_GUARD:
        annotate(trace.get_current_span())


def _broker_host() -> str:
    conf = current_app.conf
    url = conf.broker_write_url or conf.broker_url
    host = host_of(str(url)) if url else None
    return host or _LOCAL


def gate_publish(sender: Any = None, headers: Any = None, **kwargs: Any) -> None:
    """``before_task_publish`` (after the official receiver): the allowlist on the broker."""
    with _PUBLISH_GUARD:
        if headers is None or parsed_host_allowed(_broker_host()):
            return
        for field in _fields():
            headers.pop(field, None)


_lock: Final = threading.Lock()


def connect_before() -> None:
    """Receivers that must run before the official instrumentation's (connect it after)."""
    with _lock:
        signals.task_prerun.connect(clean_request, weak=False, dispatch_uid=f"{_UID}.clean")


def connect_after() -> None:
    """Receivers that must run after the official instrumentation's."""
    with _lock:
        signals.task_prerun.connect(annotate_task, weak=False, dispatch_uid=f"{_UID}.session")
        signals.before_task_publish.connect(gate_publish, weak=False, dispatch_uid=f"{_UID}.gate")


def disconnect() -> None:
    """Remove our receivers."""
    with _lock:
        signals.task_prerun.disconnect(dispatch_uid=f"{_UID}.clean")
        signals.task_prerun.disconnect(dispatch_uid=f"{_UID}.session")
        signals.before_task_publish.disconnect(dispatch_uid=f"{_UID}.gate")
