"""``TracingCallbackHandler``: LangChain / LangGraph callbacks -> agent, step, chat, tool and
retrieval runs on the core.

Spans are parented explicitly through LangChain's ``parent_run_id``, never through the
current context at end time: async end callbacks run in copied contexts (LangChain
shields them), so attaching at start and detaching at end cannot work there. Making a
run's span current is left to the instrumentor's wrappers (``_wrappers``), which attach
only inside the context copies LangChain makes for child runs or around a call they
wrap. A handler used on its own (``config={"callbacks": [handler]}``) attaches in its
callbacks, but only where no event loop runs, so start and end share a context.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from instrumentors import semconv
from instrumentors.langchain import _extract, _providers
from instrumentors.langchain._runs import (
    AGENT,
    DEFAULT_MAX_RUNS,
    LLM,
    NODE,
    RETRIEVAL,
    STEP,
    TOOL,
    Entry,
    RunMap,
    end_with,
    take_call_id,
)
from instrumentors.langchain._stream import GRAPH, MODEL, RETRIEVER, Scope, claim
from instrumentors.telemetry import (
    LLMRun,
    RetrievalRun,
    Run,
    Telemetry,
    ToolRun,
    ToolTemplate,
    guard,
)

SCOPE: Final = "instrumentors.langchain"

_G_CHAIN_START: Final = guard("on_chain_start")
_G_CHAIN_END: Final = guard("on_chain_end")
_G_LLM_START: Final = guard("on_chat_model_start")
_G_LLM_TOKEN: Final = guard("on_llm_new_token")
_G_LLM_END: Final = guard("on_llm_end")
_G_TOOL_START: Final = guard("on_tool_start")
_G_TOOL_END: Final = guard("on_tool_end")
_G_RETRIEVER: Final = guard("on_retriever_start")
_G_RETRIEVER_END: Final = guard("on_retriever_end")
_G_ERROR: Final = guard("an error callback")
_G_AGENT: Final = guard("on_agent_action")


class TracingCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that traces runs as OpenTelemetry GenAI spans."""

    raise_error = False
    # Called in the caller's thread and task (no executor hop, no copied context).
    run_inline = True

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        max_runs: int = DEFAULT_MAX_RUNS,
        telemetry: Telemetry | None = None,
    ) -> None:
        # ``telemetry``: the core the instrumentor built (its providers); else our own.
        self._tel = telemetry or Telemetry(
            SCOPE, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        self._runs = RunMap(max_runs)
        self._attach = True
        self._enabled = True

    def __copy__(self) -> TracingCallbackHandler:
        return self  # one shared service object: its runs must stay in one map

    def __deepcopy__(self, memo: dict[int, Any]) -> TracingCallbackHandler:
        return self

    # ------------------------------------------------------------------ lookups (wrappers)

    def run_for(self, run_id: UUID | None) -> Run | None:
        """The open run for ``run_id`` (or its nearest traced ancestor), if any."""
        entry = self._runs.get(run_id)
        if entry is None or entry.run.finished:
            return None
        return entry.run

    # ------------------------------------------------------------------ chains

    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A graph (agent), node (step), AgentExecutor (agent) or a root chain (step)."""
        with _G_CHAIN_START:
            if not self._active():
                return
            scope = claim(GRAPH)
            parent = self._runs.get(parent_run_id)
            if tags and _extract.HIDDEN_TAG in tags:
                if parent is not None:
                    self._runs.store(run_id, parent)
                return
            name = kwargs.get("name")  # given by langchain-core 0.3+ (run_name's first choice)
            if type(name) is not str or not name:
                name = _extract.run_name(serialized, kwargs)
            if parent is None:
                kind = (
                    AGENT
                    if scope is not None or _extract.looks_like_agent(serialized, name, metadata)
                    else STEP
                )
            elif scope is not None and (name != _extract.DEFAULT_GRAPH_NAME or parent.kind != NODE):
                kind = AGENT  # a named sub-agent, or a graph run inside a tool
            elif scope is None and _extract.is_graph_node(name, tags, metadata):
                kind = NODE
            else:
                self._runs.store(run_id, parent)  # internal plumbing: transparent
                return
            placement = _placement(parent, metadata)
            run: Run
            if kind == AGENT:
                agent_id = metadata.get("assistant_id") if metadata else None
                run = self._tel.agent(
                    name, agent_id=str(agent_id) if agent_id else None, **placement
                )
            else:
                run = self._tel.step(name, **placement)
            self._enter(run_id, run, kind, scope)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """End the chain's span (if it has one)."""
        with _G_CHAIN_END:
            entry = self._runs.pop(run_id)
            if entry is not None:
                entry.run.stop()

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Fail the chain's span; LangGraph control flow (interrupts, commands) is no error."""
        with _G_ERROR:
            end_with(self._runs.pop(run_id), error)

    def on_agent_action(self, action: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Remember the tool call id an AgentExecutor announces, for the tool run that follows."""
        with _G_AGENT:
            entry = self._runs.get(run_id)
            call = _extract.agent_action_call(action)
            if entry is not None and call is not None:
                if entry.calls is None:
                    entry.calls = []
                entry.calls.append(call)

    # ------------------------------------------------------------------ models

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start a ``chat {model}`` span."""
        with _G_LLM_START:
            self._start_llm(
                serialized, messages, semconv.OP_CHAT, run_id, parent_run_id, metadata, kwargs
            )

    def on_llm_start(
        self,
        serialized: Any,
        prompts: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start a ``text_completion {model}`` span."""
        with _G_LLM_START:
            self._start_llm(
                serialized,
                prompts,
                semconv.OP_TEXT_COMPLETION,
                run_id,
                parent_run_id,
                metadata,
                kwargs,
            )

    def _start_llm(
        self,
        serialized: Any,
        inputs: Any,
        operation: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        if not self._active():
            return
        parent = self._runs.get(parent_run_id)
        params = kwargs.get("invocation_params") or {}
        provider, model = _providers.model_identity(serialized, metadata, params)
        run = self._tel.llm(
            provider,
            model,
            operation=operation,
            **_placement(parent, metadata),
        )
        self._enter(run_id, run, LLM, claim(MODEL))
        if run.span.is_recording():
            _extract.llm_request(run, params, kwargs.get("options"), metadata)
            if run.capture_content:
                run.set_messages(inputs=_extract.llm_inputs(inputs, operation == semconv.OP_CHAT))

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A streamed chunk (time to first chunk)."""
        with _G_LLM_TOKEN:
            entry = self._runs.get(run_id)
            if entry is not None and isinstance(entry.run, LLMRun):
                entry.run.record_chunk()

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Usage, response and tool calls; end the chat span."""
        with _G_LLM_END:
            entry = self._runs.pop(run_id)
            if entry is None:
                return
            run = entry.run
            try:
                if isinstance(run, LLMRun) and run.span.is_recording():
                    _extract.llm_result(run, response)
            finally:
                run.stop()

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Fail the chat span."""
        with _G_ERROR:
            end_with(self._runs.pop(run_id), error)

    # ------------------------------------------------------------------ tools

    def on_tool_start(
        self,
        serialized: Any,
        input_str: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start an ``execute_tool {tool}`` span (call id, description, hashed input)."""
        with _G_TOOL_START:
            if not self._active():
                return
            parent = self._runs.get(parent_run_id)
            name = _extract.run_name(serialized, kwargs, default="tool")
            call_id = take_call_id(parent, name, kwargs.get("tool_call_id"))
            run = self._tel.tool(
                self._template(name, serialized),
                call_id=call_id,
                params=_extract.tool_params(input_str, inputs),
                **_placement(parent, metadata),
            )
            self._enter(run_id, run, TOOL)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """End the tool span (the call id from a ``ToolMessage`` output, on core 0.3)."""
        with _G_TOOL_END:
            entry = self._runs.pop(run_id)
            if entry is None:
                return
            run = entry.run
            if not isinstance(run, ToolRun):
                run.stop()
                return
            call_id, result = _extract.tool_output(output)
            run.set_call_id(call_id)
            run.stop(result)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Fail the tool span (a LangGraph interrupt inside a tool is no failure)."""
        with _G_ERROR:
            entry = self._runs.pop(run_id)
            call_id = kwargs.get("tool_call_id")
            if entry is not None and isinstance(entry.run, ToolRun) and isinstance(call_id, str):
                entry.run.set_call_id(call_id)
            end_with(entry, error)

    # ------------------------------------------------------------------ retrievers

    def on_retriever_start(
        self,
        serialized: Any,
        query: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start a ``retrieval {retriever}`` span."""
        with _G_RETRIEVER:
            if not self._active():
                return
            parent = self._runs.get(parent_run_id)
            run = self._tel.retrieval(
                _extract.run_name(serialized, kwargs, default="retriever"),
                **_placement(parent, metadata),
            )
            self._enter(run_id, run, RETRIEVAL, claim(RETRIEVER))

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the document count; end the retrieval span."""
        with _G_RETRIEVER_END:
            entry = self._runs.pop(run_id)
            if entry is None:
                return
            try:
                if isinstance(entry.run, RetrievalRun) and documents is not None:
                    entry.run.set_documents(len(documents))
            finally:
                entry.run.stop()

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Fail the retrieval span."""
        with _G_ERROR:
            end_with(self._runs.pop(run_id), error)

    # ------------------------------------------------------------------ helpers

    def _active(self) -> bool:
        return self._enabled and is_instrumentation_enabled()

    def _template(self, name: str, serialized: Any) -> ToolTemplate:
        """What every span of this tool shares (the core caches it per tool, bounded)."""
        description = serialized.get("description") if isinstance(serialized, dict) else None
        return self._tel.tool_template(
            name, description=description if isinstance(description, str) else None
        )

    def _enter(self, run_id: UUID, run: Run, kind: int, scope: Scope | None = None) -> None:
        self._runs.enter(Entry(run_id, run, kind), scope, self._attach)


def _placement(parent: Any, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Where a new span goes: under the parent run's span, else a root in the run's session.

    Never attached here: runs become current in the child's own context (see _wrappers).
    """
    if parent is not None:
        return {"session_id": None, "context": parent.run.context, "attach": False}
    return {"session_id": _extract.session_id(metadata), "context": None, "attach": False}
