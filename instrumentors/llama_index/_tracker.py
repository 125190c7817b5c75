"""LlamaIndex spans -> runs on the core: the record per span and the tracker that owns them.

The dispatcher calls ``span_enter`` in the method's own context and ``span_exit``
/ ``span_drop`` in that same context (except 0.12 ``Workflow.run``, which ends in
a Future callback), so a run attached on enter is detached on exit. LLM streams
are the exception: their run stays current past the exit (the provider request
happens at the first read) and is released from wherever the stream is read,
which may be another context or have other spans on top; ``Record.release``
never detaches then. LlamaIndex spans are keyed by their span ids; every map is
evicted on end and capped.
"""

from __future__ import annotations

import inspect
import weakref
from contextvars import ContextVar, Token
from types import AsyncGeneratorType, GeneratorType
from typing import Any, Final

from llama_index.core.instrumentation.events import BaseEvent
from opentelemetry import trace
from opentelemetry.context import Context, attach, detach, get_current
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span

from instrumentors import semconv
from instrumentors.llama_index import _extract, _extract_llm
from instrumentors.llama_index._extract import Kind, Types
from instrumentors.llama_index._stream import Streams, finish_llm
from instrumentors.telemetry import (
    NO_PARAMS,
    EmbeddingRun,
    LLMRun,
    RetrievalRun,
    Run,
    Telemetry,
    ToolRun,
    guard,
)

DEFAULT_CAPACITY: Final = 10_000
_DESCRIBE: Final = guard("LlamaIndex span attributes")
_END: Final = guard("LlamaIndex span end")
_STREAM_TYPES: Final = (GeneratorType, AsyncGeneratorType)
_NESTABLE: Final = (Kind.LLM, Kind.TOOL, Kind.RETRIEVAL, Kind.EMBEDDING)
_FROM_RESULT: Final = (Kind.LLM, Kind.RETRIEVAL, Kind.EMBEDDING)  # attributes read off results

# Set next to each OTel attach: resetting it tells whether we are still in the
# contextvars.Context that attached, so a detach never logs "Failed to detach context".
_scope: ContextVar[None] = ContextVar("instrumentors_llama_index_scope", default=None)


class Record:
    """One LlamaIndex span we turned into a run."""

    __slots__ = (
        "attached",
        "error",
        "event",
        "finalizer",
        "finish_reason",
        "instance",
        "kind",
        "method",
        "name",
        "otel_token",
        "parent_run",
        "run",
        "scope_token",
    )

    def __init__(self, kind: Kind, run: Run, instance: Any, method: str) -> None:
        self.kind = kind
        self.run = run
        self.instance = instance
        self.method = method
        self.name: str | None = None  # agent runs: the agent's name
        self.attached: Context | None = None  # the context object we made current
        self.otel_token: object | None = None
        self.scope_token: Token[None] | None = None
        self.event: Any = None  # a step's input event (a ToolCall names the tool call id)
        self.parent_run: Record | None = None  # the workflow run a step belongs to
        self.error: BaseException | None = None  # 0.12 runs: the exception a step failed with
        self.finalizer: weakref.finalize[Any, Any] | None = None  # streams: GC fallback
        self.finish_reason: str | None = None  # streams: seen on a chunk

    @property
    def is_attached(self) -> bool:
        """True while the run's span is current where it was attached."""
        return self.otel_token is not None

    def attach(self) -> None:
        """Make the run's span current in this context."""
        context = self.run.context
        self.scope_token = _scope.set(None)
        self.otel_token = attach(context)
        self.attached = context

    def release(self, *, on_top: bool = False) -> bool:
        """Undo ``attach`` here; True when nothing is attached any more.

        Not done (False) from another contextvars.Context, nor, with ``on_top``,
        while someone else's context is current above ours: detaching then would
        end their scope. A later call in the right place finishes it.
        """
        token = self.otel_token
        scope = self.scope_token
        if token is None or scope is None:
            return True
        if on_top and get_current() is not self.attached:
            return False
        try:
            _scope.reset(scope)
        except (ValueError, RuntimeError):
            return False
        self.otel_token = self.scope_token = None
        detach(token)  # type: ignore[arg-type]
        return True


class Tracker:
    """Turns dispatcher notifications into runs on the core; owns every map."""

    def __init__(self, tel: Telemetry, types: Types, capacity: int = DEFAULT_CAPACITY) -> None:
        self.tel = tel
        self.types = types
        self.capacity = capacity
        self.records: dict[str, Record] = {}  # LlamaIndex span id -> open record
        self.streams = Streams(capacity, self._forget)  # LLM streams being read
        self.current: dict[Span, Record] = {}  # OTel span -> record, to fold nested same calls
        self.workflow_runs: dict[int, Record] = {}  # id(workflow) -> open 0.12 run
        self.quiet: dict[str, Record] = {}  # 0.12 bookkeeping steps (no span of their own)
        self._kinds: dict[tuple[type, str], Kind | None] = {}
        self._profiles: dict[type, _extract_llm.LLMProfile] = {}

    def sizes(self) -> dict[str, int]:
        """How many entries each map holds (tests check they drain)."""
        return {
            "records": len(self.records),
            "streams": len(self.streams.open),
            "leaked": len(self.streams.leaked),
            "current": len(self.current),
            "workflow_runs": len(self.workflow_runs),
            "quiet": len(self.quiet),
        }

    # ------------------------------------------------------------------ enter

    def enter(
        self, id_: str, bound: inspect.BoundArguments, instance: Any, parent_id: str | None
    ) -> None:
        """A LlamaIndex span started: start (and make current) a run if it is one we show."""
        if self.streams.leaked:
            self.streams.release_leaked()
        if not is_instrumentation_enabled() or len(self.records) >= self.capacity:
            return
        name = id_.partition("-")[0]
        parent = self.records.get(parent_id) if parent_id else None
        if instance is None:
            # 0.14 steps are plain functions whose span starts right under the run's.
            if parent is None or parent.kind is not Kind.AGENT:
                return
            kind: Kind | None = Kind.STEP
        else:
            key = (type(instance), name)
            try:
                kind = self._kinds[key]
            except KeyError:
                kind = _extract.classify(self.types, instance, _extract.method_of(name))
                if len(self._kinds) < self.capacity:
                    self._kinds[key] = kind
        if kind is None or self._nested(kind, instance, parent):
            return
        run_record = self._run_of(instance, parent) if kind is Kind.STEP else None
        if kind is Kind.STEP and self._quiet_step(id_, name, instance, run_record):
            return
        record = self._start(kind, name, instance, run_record)
        self.records[id_] = record
        if kind in _NESTABLE:
            self.current[record.run.span] = record
        if kind is not Kind.AGENT or not self.types.run_is_future:
            record.attach()
        with _DESCRIBE:
            if record.run.span.is_recording():
                self._describe(record, bound, parent)

    def _nested(self, kind: Kind, instance: Any, parent: Record | None) -> bool:
        """True for a span inside the same call (``chat`` -> ``complete``, ``__call__``...)."""
        if kind is Kind.AGENT:
            return parent is not None and parent.kind is Kind.AGENT and parent.instance is instance
        if kind not in _NESTABLE or not self.current:
            return False
        outer = self.current.get(trace.get_current_span())
        if outer is None or outer.kind is not kind:
            return False
        if outer.instance is instance:
            return True
        # An LLM delegating to another (structured / wrapper LLMs) is still one request;
        # a stream already handed back only folds its own implementation.
        return kind in (Kind.LLM, Kind.EMBEDDING) and outer.finalizer is None

    def _run_of(self, instance: Any, parent: Record | None) -> Record | None:
        """The workflow run a step belongs to."""
        if parent is not None and parent.kind is Kind.AGENT:
            return parent
        if parent is None and instance is not None:
            # 0.12 runs sync steps in an executor without the context: no parent id.
            return self.workflow_runs.get(id(instance))
        return None

    def _quiet_step(self, id_: str, name: str, instance: Any, run: Record | None) -> bool:
        """Skip an agent's bookkeeping step (no span).

        On 0.12, where the run is never current, the step still makes the run's
        context current (what it calls nests under the agent) and its failure
        fails the run.
        """
        method = _extract.method_of(name)
        workflow = run.instance if run is not None else instance
        if not _extract.is_bookkeeping(workflow, method):
            return False
        if run is not None and self.types.run_is_future and len(self.quiet) < self.capacity:
            quiet = Record(Kind.STEP, run.run, instance, method)
            quiet.parent_run = run
            self.quiet[id_] = quiet
            quiet.attach()
        return True

    def _start(self, kind: Kind, name: str, instance: Any, workflow_run: Record | None) -> Record:
        """Start the run for a span (for a step: in the workflow run it belongs to)."""
        tel = self.tel
        method = _extract.method_of(name)
        run: Run
        if kind is Kind.LLM:
            profile = self._profile(type(instance))
            host, port = profile.server(instance)
            run = tel.llm(
                profile.provider,
                profile.model(instance),
                operation=semconv.OP_TEXT_COMPLETION
                if _extract_llm.is_completion(method)
                else semconv.OP_CHAT,
                server_address=host,
                server_port=port,
                attach=False,
            )
        elif kind is Kind.TOOL:
            tool_name, description, tool_type = _extract.tool_info(self.types, instance)
            template = tel.tool_template(tool_name, tool_type, description)
            run = tel.tool(template, attach=False)
        elif kind is Kind.RETRIEVAL:
            source, top_k = _extract.retriever_info(instance)
            run = tel.retrieval(source, top_k=top_k, attach=False)
        elif kind is Kind.EMBEDDING:
            model = _extract.embedding_model(instance)
            run = tel.embedding(self._profile(type(instance)).provider, model, attach=False)
        elif kind is Kind.AGENT:
            agent, description, model = _extract.agent_info(instance)
            run = tel.agent(agent, description=description, model=model, attach=False)
        elif kind is Kind.QUERY:
            run = tel.step(name, attach=False)
        else:
            return self._start_step(method, instance, workflow_run)
        record = Record(kind, run, instance, method)
        if kind is Kind.AGENT:
            record.name = agent
        future_run = kind is Kind.AGENT and self.types.run_is_future
        if future_run and len(self.workflow_runs) < self.capacity:
            self.workflow_runs[id(instance)] = record
        return record

    def _start_step(self, method: str, instance: Any, run_record: Record | None) -> Record:
        context = None
        # 0.12: the run span is never current; its steps start in the run's tasks.
        own_run = run_record is not None and run_record.instance is instance
        if own_run and run_record is not None and not run_record.is_attached:
            context = run_record.run.context
        record = Record(
            Kind.STEP, self.tel.step(method, context=context, attach=False), instance, method
        )
        record.parent_run = run_record
        return record

    def _profile(self, cls: type) -> _extract_llm.LLMProfile:
        found = self._profiles.get(cls)
        if found is None:
            found = _extract_llm.LLMProfile(cls)
            if len(self._profiles) < self.capacity:
                self._profiles[cls] = found
        return found

    def _describe(
        self, record: Record, bound: inspect.BoundArguments, parent: Record | None
    ) -> None:
        """Attributes known at start (recording spans only)."""
        run = record.run
        if isinstance(run, LLMRun):
            temperature, max_tokens = self._profile(type(record.instance)).request(record.instance)
            stream = True if _extract_llm.is_stream_method(record.method) else None
            run.set_request(temperature=temperature, max_tokens=max_tokens, stream=stream)
            if run.capture_content:
                run.set_messages(inputs=_extract_llm.input_messages(bound))
        elif isinstance(run, ToolRun):
            if parent is not None and parent.kind is Kind.STEP:
                run.set_call_id(_extract.tool_call_id(parent.event, run.name))
            run.set_params(_extract.tool_params(record.instance, bound))
        elif record.kind is Kind.STEP:
            record.event = event = bound.arguments.get("ev")
            agent = _extract.step_agent(event)
            workflow_run = record.parent_run
            if agent is not None and (workflow_run is None or agent != workflow_run.name):
                run.set_attribute(semconv.GEN_AI_AGENT_NAME, agent)  # multi-agent workflows

    # ------------------------------------------------------------------ exit / drop

    def exit(self, id_: str, result: Any) -> None:
        """A LlamaIndex span ended normally: finish its run (or hand a stream over)."""
        record = self.records.pop(id_, None)
        if record is None:
            quiet = self.quiet.pop(id_, None) if self.quiet else None
            if quiet is not None:
                quiet.release()
            return
        if record.kind is Kind.LLM and isinstance(result, _STREAM_TYPES):
            self.streams.hand_over(id_, record, result)
            return
        record.release()
        self._forget(record)
        run = record.run
        if record.kind in _FROM_RESULT:
            with _END:
                if run.span.is_recording():
                    self._finish(record, result)
        if record.kind is Kind.AGENT and result is None and record.error is not None:
            run.fail(record.error)  # 0.12: a failed run still "exits", with no result
        elif isinstance(run, ToolRun):
            value: Any = NO_PARAMS
            with _END:
                value = _extract.tool_result(result)
            run.stop(value)
        else:
            run.stop()

    def drop(self, id_: str, err: BaseException | None) -> None:
        """A LlamaIndex span ended with an exception: fail its run (control flow is not one)."""
        record = self.records.pop(id_, None)
        if record is None:
            quiet = self.quiet.pop(id_, None) if self.quiet else None
            if quiet is not None:
                quiet.release()
                if quiet.parent_run is not None and not _extract.is_control_flow(err):
                    quiet.parent_run.error = err
            return
        record.release()
        self._forget(record)
        if err is None or _extract.is_control_flow(err):
            record.run.stop()
            return
        record.run.fail(err)
        if record.parent_run is not None:
            record.parent_run.error = err

    def _finish(self, record: Record, result: Any) -> None:
        run = record.run
        if isinstance(run, LLMRun):
            finish_llm(run, result, chat=not _extract_llm.is_completion(record.method))
        elif isinstance(run, RetrievalRun):
            run.set_documents(_extract.document_count(result))
        elif isinstance(run, EmbeddingRun):
            run.set_response(dimension=_extract.embedding_dimension(result))

    def _forget(self, record: Record) -> None:
        self.current.pop(record.run.span, None)
        if record.kind is Kind.AGENT and self.workflow_runs.get(id(record.instance)) is record:
            del self.workflow_runs[id(record.instance)]

    def on_event(self, event: BaseEvent) -> None:
        """A dispatcher event: only LLM stream chunks, ends and errors matter."""
        self.streams.handle(event)

    def close(self) -> None:
        """End every open run (uninstrument, dispatcher shutdown)."""
        self.streams.close()
        records = list(self.records.values())
        self.records.clear()
        self.current.clear()
        self.workflow_runs.clear()
        self.quiet.clear()
        for record in records:
            record.run.stop()
