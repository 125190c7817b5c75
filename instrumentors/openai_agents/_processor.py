"""``AgentsTracingProcessor``: the Agents SDK's traces and spans -> our runs on the core.

A ``TracingProcessor`` (the SDK's public tracing API) sees each trace and span start
and end, in the task or thread that runs it. The mapping:

- a trace: a step named after the workflow, under the span current when the run
  starts (so the whole run is one OpenTelemetry trace); its session is the one in
  context, else the SDK's ``group_id``; it keeps the SDK's trace id;
- ``agent``: ``invoke_agent {agent}``; ``generation`` / ``response``: ``chat {model}``
  (current while the model is called, so the OpenAI layer enriches it: one span per
  request); ``function``: ``execute_tool {tool}`` with the call id the response
  requested, the link to that chat span and the hashed arguments;
- ``handoff``, ``guardrail``, ``custom``: steps named after what they are;
- everything else (``task``, ``turn``, ``mcp_tools``, voice): no span of ours; what
  runs under it goes under its parent (MCP calls get the MCP layer's spans).

Parents come from the SDK's parent ids, never from the context at end time. Each run
is current while its SDK span is (the SDK marks its spans current at start and resets
them at end, in the same context), so HTTP and MCP calls, nested tools and the OpenAI
layer nest under it.
"""

from __future__ import annotations

from typing import Any, Final

from agents.tracing import TracingProcessor
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from instrumentors import semconv
from instrumentors.openai_agents import _errors, _extract
from instrumentors.openai_agents._runs import (
    AGENT,
    CHAT,
    DEFAULT_MAX_SPANS,
    PASS,
    STEP,
    TOOL,
    TRACE,
    Entries,
    Entry,
)
from instrumentors.telemetry import NO_PARAMS, LLMRun, Run, Telemetry, ToolRun, guard

SCOPE: Final = "instrumentors.openai_agents"

_KINDS: Final = {
    "agent": AGENT,
    "generation": CHAT,
    "response": CHAT,
    "function": TOOL,
    "handoff": STEP,
    "guardrail": STEP,
    "custom": STEP,
}
_G_TRACE_START: Final = guard("on_trace_start (openai-agents)")
_G_TRACE_END: Final = guard("on_trace_end (openai-agents)")
_G_SPAN_START: Final = guard("on_span_start (openai-agents)")
_G_SPAN_END: Final = guard("on_span_end (openai-agents)")
_G_READ: Final = guard("reading an openai-agents span")


class AgentsTracingProcessor(TracingProcessor):
    """An Agents SDK trace processor that records its traces as OpenTelemetry GenAI spans.

    ``OpenAIAgentsInstrumentor().instrument()`` registers one; without the instrumentor,
    ``agents.add_trace_processor(AgentsTracingProcessor())``.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        max_spans: int = DEFAULT_MAX_SPANS,
        telemetry: Telemetry | None = None,
    ) -> None:
        # ``telemetry``: the core the instrumentor built (its providers); else our own.
        self._tel = telemetry or Telemetry(
            SCOPE, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        self._entries = Entries(max_spans)
        self.enabled = True

    # ------------------------------------------------------------------ traces

    def on_trace_start(self, trace: Any) -> None:
        """Open the workflow's step under the span current now (the run's caller's)."""
        with _G_TRACE_START:
            if not self._active():
                return
            name, group = _extract.trace_info(trace)
            run = self._tel.step(name, session_id=group, attach=True)
            trace_id = trace.trace_id
            run.set_at_end(_extract.OPENAI_AGENTS_TRACE_ID, trace_id)
            run.set_at_end(_extract.OPENAI_AGENTS_GROUP_ID, group)
            self._entries.add_trace(trace_id, Entry(TRACE, run, run.context, trace_id, None))

    def on_trace_end(self, trace: Any) -> None:
        """End the workflow's step (and any span of it the SDK left open)."""
        with _G_TRACE_END:
            entry, left = self._entries.pop_trace(trace.trace_id)
            for orphan in reversed(left):
                if orphan.run is not None:
                    orphan.run.stop()  # an abandoned stream: no outcome, no error
            if entry is not None:
                _errors.end(entry, None)

    # ------------------------------------------------------------------ spans

    def on_span_start(self, span: Any) -> None:
        """Start our run for an SDK span (or note where its children go)."""
        with _G_SPAN_START:
            if not self._active():
                return
            data = span.span_data
            kind = _KINDS.get(data.type, PASS)
            parent = self._parent(span)
            context = parent.context if parent is not None else None
            agent = parent.agent if parent is not None else None
            if kind == PASS:
                entry = Entry(PASS, None, context, span.trace_id, agent)
            elif kind == AGENT:
                name = str(data.name or "")
                run: Run = self._tel.agent(
                    name, agent_id=_extract.agent_id(data), context=context, attach=True
                )
                run.set_at_end(_extract.OPENAI_AGENTS_TRACE_ID, span.trace_id)
                entry = Entry(AGENT, run, run.context, span.trace_id, name or agent)
            elif kind == CHAT:
                run = _extract.start_chat(self._tel, data, {"context": context, "attach": True})
                entry = Entry(CHAT, run, run.context, span.trace_id, agent)
            elif kind == TOOL:
                run = self._start_tool(span, data, context, agent)
                entry = Entry(TOOL, run, run.context, span.trace_id, agent)
            else:
                run = self._tel.step(_extract.step_name(data), context=context, attach=True)
                entry = Entry(STEP, run, run.context, span.trace_id, agent)
            self._entries.add_span(span.span_id, entry)

    def on_span_end(self, span: Any) -> None:
        """End the run of an SDK span with what the span learned."""
        with _G_SPAN_END:
            entry = self._entries.pop_span(span.span_id)
            if entry is None:
                return
            run, data = entry.run, span.span_data
            if run is None:  # no span of ours; an MCP listing says which tools are MCP's
                if data.type == "mcp_tools":
                    self._listed(entry, data)
            elif entry.kind == CHAT and isinstance(run, LLMRun):
                self._end_chat(entry, run, span)
            elif entry.kind == TOOL and isinstance(run, ToolRun):
                output = None
                with _G_READ:
                    if not run.has_hash and data.input is not None:
                        run.set_params(_extract.tool_params(data.input))
                    if data.mcp_data:  # an MCP server's tool not listed in this trace
                        run.set_at_end(semconv.GEN_AI_TOOL_TYPE, semconv.TOOL_TYPE_EXTENSION)
                    output = data.output
                _errors.end(entry, span, NO_PARAMS if output is None else output)
            elif entry.kind == STEP:
                with _G_READ:
                    for key, value in _extract.step_attributes(data).items():
                        run.set_at_end(key, value)
                    if data.type == "guardrail" and data.triggered:
                        _errors.trip(run, data.name)
                _errors.end(entry, span)  # a no-op when the tripwire ended it
            else:
                _errors.end(entry, span)

    def _end_chat(self, entry: Entry, run: LLMRun, span: Any) -> None:
        calls = []
        with _G_READ:
            calls = _extract.finish_chat(run, span.span_data)
        _errors.end(entry, span)
        with _G_READ:
            # Without the response (sensitive data kept out of SDK traces), the OpenAI
            # layer's view of it, published into this run, names the calls.
            self._entries.request(span.parent_id, calls or _extract.requested_calls(run))

    def _listed(self, entry: Entry, data: Any) -> None:
        """An MCP server listed its tools: calls of them in this trace are ``extension`` tools."""
        trace = self._entries.traces.get(entry.trace_id)
        if trace is not None and isinstance(data.result, list):
            trace.mcp_tools = trace.mcp_tools.union(str(name) for name in data.result)

    def _start_tool(self, span: Any, data: Any, context: Any, agent: str | None) -> ToolRun:
        name = str(data.name or "")
        call = self._entries.claim(span.parent_id, name)
        arguments = call.arguments if call is not None else data.input
        trace = self._entries.traces.get(span.trace_id)
        mcp = data.mcp_data or (trace is not None and name in trace.mcp_tools)
        kind = semconv.TOOL_TYPE_EXTENSION if mcp else semconv.TOOL_TYPE_FUNCTION
        return self._tel.tool(
            self._tel.tool_template(name, kind, agent_name=agent),
            call_id=call.id if call is not None else None,
            params=_extract.tool_params(arguments),
            context=context,
            attach=True,
        )

    # ------------------------------------------------------------------ helpers

    def _active(self) -> bool:
        return self.enabled and is_instrumentation_enabled()

    def _parent(self, span: Any) -> Entry | None:
        """The entry children of ``span``'s parent go under: its parent span's, or its trace's."""
        parent_id = span.parent_id
        entry = self._entries.spans.get(parent_id) if parent_id else None
        return entry if entry is not None else self._entries.traces.get(span.trace_id)

    def close(self) -> None:
        """Stop tracing and end every run still open (uninstrument)."""
        self.enabled = False
        for entry in reversed(self._entries.drain()):
            if entry.run is not None:
                entry.run.stop()

    def shutdown(self) -> None:
        """Nothing to flush: spans go to the OpenTelemetry providers as they end."""
        return None

    def force_flush(self) -> None:
        """Nothing buffered here (flush the OpenTelemetry provider for the exporters)."""
        return None
