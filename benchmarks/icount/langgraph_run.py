"""icount driver: a LangGraph ReAct agent run (``langchain_overhead.py``'s ``_agent()``).

``create_react_agent`` over the scripted chat model: model (asks for a tool call) ->
tool (in LangGraph's thread pool: callgrind counts every thread) -> model. Of the
runs LangGraph reports, ours traces seven; the others (``call_model``,
``RunnableSequence``, ``Prompt``, ``should_continue``: plumbing inside a node) get no
span, their children parented to the nearest traced ancestor::

    invoke_agent LangGraph          the graph run (root)
      agent                         node run, step 1
        chat                        chat model run (answers with the tool call)
      tools                         node run, step 2
        execute_tool get_weather    tool run (linked to the first chat span)
      agent                         node run, step 3
        chat                        chat model run (the final answer)

Modes: ``plain`` (no handler), ``noop`` (a no-op callback handler added to every
callback manager through ``register_configure_hook``, inheritable, as our instrumentor
adds its handler), ``bare`` (``langchain_step.BareHandler`` at that same hook: a bare
SDK span for exactly those seven runs, looked up by run name, with our spans' names,
kinds, attributes (in order: the two ``chat`` spans differ) and link; each span
current from its start callback to its end callback, so the children of untraced
runs find the nearest traced ancestor as their parent, as ours do), ``ours``
(``LangChainInstrumentor``)::

    python benchmarks/icount/langgraph_run.py MODE CALLS

As in ``langchain_step.py``, our spans are captured in a child process (``capture``
mode) and the ``bare`` mode checks once, outside the count, that its spans match.
"""

from __future__ import annotations

from _icount import measure, parse_args, tracing
from langchain_overhead import _agent
from langchain_step import (
    CAPTURE,
    CHAT,
    MESSAGES,
    TOOL,
    BareHandler,
    NoopHandler,
    capture,
    captured,
    check,
    describe,
    hook,
    spans_of,
)
from langchain_step import specs as specs_of
from opentelemetry import trace

from instrumentors.langchain import LangChainInstrumentor

MODES = ("plain", "noop", "bare", "ours")
# LangGraph run name -> our span's name, for the chain runs ours traces.
CHAINS = {"LangGraph": "invoke_agent LangGraph", "agent": "agent", "tools": "tools"}


def main() -> None:
    mode, calls = parse_args((*MODES, CAPTURE))
    _, exporter = tracing()
    agent = _agent()
    question = {"messages": MESSAGES}

    def run() -> object:
        return agent.invoke(question)

    if mode == CAPTURE:
        capture(exporter, run)
        return
    if mode == "noop":
        hook(NoopHandler())
    elif mode == "bare":
        ours = captured(__file__)
        chains = {run_name: specs_of(ours, span) for run_name, span in CHAINS.items()}
        tools = {"get_weather": specs_of(ours, TOOL)}
        chat = specs_of(ours, CHAT)
        hook(BareHandler(trace.get_tracer("bench"), chains=chains, chat=chat, tools=tools))
        run()
        check(ours, describe(spans_of(exporter, run)))
    elif mode == "ours":
        LangChainInstrumentor().instrument()
    measure(mode, run, calls, warmup=20, exporter=exporter)


if __name__ == "__main__":
    main()
