"""Trace context in job payloads, for any queue: ``job_context()`` and ``job()``.

The producer merges ``job_context()`` into the payload it enqueues::

    queue.put({"text": text, **instrumentors.job_context()})              # just the context
    queue.put({"text": text, **instrumentors.job_context("summarise")})   # + a ``send`` span

and the worker wraps its handler::

    @instrumentors.job(name="summarise")     # CONSUMER span ``process summarise``
    def summarise(payload): ...

    with instrumentors.job("summarise", payload): ...     # the same, as a block

Parent and link (the messaging conventions): the ``process`` span is a child of the
context the payload carries, however long ago it was enqueued, so the worker's spans
sit under the agent's tool call in one trace; it also links to that context, as the
conventions ask of every process span. A payload without a usable context (missing,
malformed, oversized, not a mapping) starts from the worker's current context: a new
trace in a plain worker. Nothing here raises into the user's code. Incoming baggage is
untrusted: ``propagation.extract`` keeps only the trusted keys, capped and cleaned.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from opentelemetry import propagate, trace
from opentelemetry.context import Context, get_current
from opentelemetry.trace import Link, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors import semconv
from instrumentors._generators import traced_async_generator, traced_generator
from instrumentors._lazy import instrumentation_enabled
from instrumentors._scopes import RunScope
from instrumentors.propagation import extract, host_allowed, host_of
from instrumentors.session import current_session_id
from instrumentors.version import __version__

if TYPE_CHECKING:
    from instrumentors.telemetry import Run

_logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
SCOPE: Final = "instrumentors.jobs"
MAX_MESSAGE_ID_LENGTH: Final = 256
_SELF_NAMES: Final = frozenset({"self", "cls"})
_NOTHING: Final[Any] = object()

# Where the context sits in a payload: None (its top-level keys), a key, or a function.
ContextSelector = str | Callable[[Any], Any] | None
# Where the message id sits: a key of the payload or a function of it.
MessageIdSelector = str | Callable[[Any], Any] | None

_tracer_cache: list[Any] = [None, None]  # [provider, tracer]: rebuilt when the global changes
_fields_cache: list[Any] = [None, ()]  # [propagator, its fields]


def _tracer() -> Tracer:
    # TODO(core): a ``Telemetry.job()`` run (PRODUCER/CONSUMER) in instrumentors.telemetry, so
    # jobs share the core's tracer per provider; until then this module keeps its own.
    provider = trace.get_tracer_provider()
    cache = _tracer_cache
    if cache[0] is not provider:
        cache[1] = trace.get_tracer(SCOPE, __version__, provider)
        cache[0] = provider
    tracer: Tracer = cache[1]
    return tracer


def _fields() -> tuple[str, ...]:
    """The keys the global propagators write (``traceparent``, ``baggage``, ``b3``...)."""
    textmap = propagate.get_global_textmap()
    cache = _fields_cache
    if cache[0] is not textmap:
        cache[1] = tuple(sorted({str(f).lower() for f in textmap.fields}))
        cache[0] = textmap
    fields: tuple[str, ...] = cache[1]
    return fields


def _session_attributes(attributes: dict[str, AttributeValue], context: Context | None) -> None:
    sid = current_session_id(context)
    if sid is not None:
        attributes[semconv.AGENT_SESSION_ID] = attributes[semconv.GEN_AI_CONVERSATION_ID] = sid


def _message_id(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_MESSAGE_ID_LENGTH] or None


def _base_attributes(name: str, operation: str, system: str | None) -> dict[str, AttributeValue]:
    return {
        net.MESSAGING_SYSTEM: system or net.MESSAGING_SYSTEM_CUSTOM,
        net.MESSAGING_OPERATION_TYPE: operation,
        net.MESSAGING_OPERATION_NAME: operation,
        net.MESSAGING_DESTINATION_NAME: name,
    }


# ------------------------------------------------------------------------------ producer


def job_context(
    name: str | None = None,
    *,
    destination: str | None = None,
    message_id: object = None,
    system: str | None = None,
) -> dict[str, str]:
    """Trace context to merge into a job payload (JSON-safe ``str`` values); never raises.

    The keys are those of the configured propagators (``traceparent``, ``tracestate``,
    ``baggage``; ``b3`` or ``x-b3-*``). With a ``name``, a PRODUCER span ``send {name}``
    is recorded and the payload carries its context. ``destination`` (the broker's URL
    or host) is checked against ``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS``: outside it, the
    dict is empty.
    """
    carrier: dict[str, str] = {}
    if name is None and destination is None:
        try:
            propagate.inject(carrier)
        except Exception:
            _logger.debug("instrumentors: job_context() failed", exc_info=True)
        return carrier
    try:
        context = None
        if name is not None and instrumentation_enabled():
            context = _send(str(name), destination, message_id, system)
        if destination is None or host_allowed(destination):
            propagate.inject(carrier, context=context)
    except Exception:
        _logger.debug("instrumentors: job_context(%r) failed", name, exc_info=True)
    return carrier


def _send(
    name: str, destination: str | None, message_id: object, system: str | None
) -> Context | None:
    """Record ``send {name}`` (it marks the hand-over: it ends at once) and return its context."""
    attributes = _base_attributes(name, net.MESSAGING_OP_SEND, system)
    mid = _message_id(message_id)
    if mid is not None:
        attributes[net.MESSAGING_MESSAGE_ID] = mid
    host = host_of(destination) if destination else None
    if host:  # the broker's host only: a destination URL may carry credentials
        attributes[net.SERVER_ADDRESS] = host
    _session_attributes(attributes, None)
    span = _tracer().start_span(
        f"{net.MESSAGING_OP_SEND} {name}", kind=SpanKind.PRODUCER, attributes=attributes
    )
    span.end()
    return trace.set_span_in_context(span)


# ------------------------------------------------------------------------------ consumer


class _JobSpec:
    """What is fixed per job: names, first attributes, where context and message id are."""

    __slots__ = ("attributes", "context", "message_id", "name", "span_name")

    def __init__(
        self, name: str, context: ContextSelector, message_id: MessageIdSelector, system: str | None
    ) -> None:
        self.name = name
        self.span_name = f"{net.MESSAGING_OP_PROCESS} {name}"
        self.attributes = _base_attributes(name, net.MESSAGING_OP_PROCESS, system)
        self.context = context
        self.message_id = message_id

    def carrier(self, payload: Any) -> dict[str, str] | None:
        """The propagators' keys found where the payload keeps its context."""
        selector = self.context
        if selector is None:
            source = payload
        elif isinstance(selector, str):
            source = payload.get(selector) if isinstance(payload, Mapping) else None
        else:
            source = selector(payload)
        if not isinstance(source, Mapping) or not source:
            return None
        carrier = {}
        for field in _fields():
            value = source.get(field)
            if value is not None:
                carrier[field] = value
        return carrier

    def find_message_id(self, payload: Any) -> str | None:
        selector = self.message_id
        if selector is None:
            return None
        if isinstance(selector, str):
            value = payload.get(selector) if isinstance(payload, Mapping) else None
        else:
            value = selector(payload)
        return _message_id(value)


def _start(spec: _JobSpec, payload: Any, attach: bool) -> Run | None:
    """Start ``process {name}`` under the payload's context (and linked to it)."""
    from instrumentors.telemetry import Run

    try:
        carrier = spec.carrier(payload)
    except Exception:  # a payload that breaks on read: a job without context
        _logger.debug("instrumentors: reading job %s's context failed", spec.name, exc_info=True)
        carrier = None
    try:
        context = extract(carrier, get_current()) if carrier else None
        links = None
        if context is not None:
            parent = trace.get_current_span(context).get_span_context()
            if parent.is_valid and parent.is_remote:
                links = (Link(parent),)
        attributes = spec.attributes
        sid = current_session_id(context)
        mid = spec.find_message_id(payload) if spec.message_id is not None else None
        if sid is not None or mid is not None:
            attributes = dict(attributes)
            if mid is not None:
                attributes[net.MESSAGING_MESSAGE_ID] = mid
            if sid is not None:
                attributes[semconv.AGENT_SESSION_ID] = sid
                attributes[semconv.GEN_AI_CONVERSATION_ID] = sid
        span = _tracer().start_span(spec.span_name, context, SpanKind.CONSUMER, attributes, links)
        return Run(span, trace.set_span_in_context(span, context), attach)
    except Exception:
        _logger.debug("instrumentors: starting job %s failed", spec.name, exc_info=True)
        return None


def _payload_of(first: str | None, skip_self: bool, args: tuple[Any, ...], kwargs: Any) -> Any:
    index = 1 if skip_self else 0
    if len(args) > index:
        return args[index]
    return kwargs.get(first) if first is not None else None


def _wrap(func: Callable[..., Any], spec: _JobSpec) -> Callable[..., Any]:
    try:
        params = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        params = []
    skip_self = bool(params) and params[0] in _SELF_NAMES
    first = params[1 if skip_self else 0] if len(params) > int(skip_self) else None

    if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
        traced = traced_async_generator if inspect.isasyncgenfunction(func) else traced_generator

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = func(*args, **kwargs)
            if not instrumentation_enabled():
                return gen
            run = _start(spec, _payload_of(first, skip_self, args, kwargs), attach=False)
            return gen if run is None else traced(gen, run)

        return gen_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not instrumentation_enabled():
                return await func(*args, **kwargs)
            run = _start(spec, _payload_of(first, skip_self, args, kwargs), attach=True)
            if run is None:
                return await func(*args, **kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                run.fail(exc)
                raise
            run.stop()
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not instrumentation_enabled():
            return func(*args, **kwargs)
        run = _start(spec, _payload_of(first, skip_self, args, kwargs), attach=True)
        if run is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            run.fail(exc)
            raise
        run.stop()
        return result

    return wrapper


class _Job(RunScope):
    """``job(name, ...)``: a decorator for workers, or a block around one payload."""

    __slots__ = ("_payload", "_spec")

    def __init__(self, spec: _JobSpec, payload: Any) -> None:
        self._spec = spec
        self._payload = payload
        super().__init__()

    def __call__(self, func: F) -> F:
        """Decorate a worker: its first argument (after ``self``) is the payload."""
        wrapped = _wrap(func, self._spec)
        return cast(F, wrapped)

    def _open(self) -> Run | None:
        if not instrumentation_enabled():
            return None
        payload = None if self._payload is _NOTHING else self._payload
        return _start(self._spec, payload, attach=True)


def job(
    name: str | Callable[..., Any] | None = None,
    payload: Any = _NOTHING,
    *,
    context: ContextSelector = None,
    message_id: MessageIdSelector = None,
    system: str | None = None,
) -> Any:
    """A CONSUMER span ``process {name}`` per job, under the context its payload carries.

    ``@job(name="summarise")`` on a worker (sync, async, generators) whose first
    argument is the payload; ``with job("summarise", payload):`` around a block;
    bare ``@job`` names the job after the function. The context is read from the
    payload's top-level keys, or from ``payload[context]`` when ``context`` is a key,
    or ``context(payload)`` when it is a function. ``message_id`` (a key or a function
    of the payload) gives ``messaging.message.id``; ``system`` ``messaging.system``.
    """
    if callable(name) and payload is _NOTHING:
        func = name
        spec = _JobSpec(getattr(func, "__name__", "job"), context, message_id, system)
        return _wrap(func, spec)
    label = str(name) if name else "job"
    return _Job(_JobSpec(label, context, message_id, system), payload)


__all__ = ["job", "job_context"]
