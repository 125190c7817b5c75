"""icount driver: a ``FunctionAgent`` run, two LLM steps and one tool call.

The agent of ``benchmarks/llama_index_overhead.py``: ``ToolThenAnswer`` (a scripted
function-calling LLM, streamed as ``FunctionAgent`` asks) with the sync ``add`` tool,
which LlamaIndex runs in the event loop's default executor (callgrind counts every
thread). One event loop serves the whole process. With ``LlamaIndexInstrumentor``
a run makes seven spans::

    invoke_agent calc
      run_agent_step
        chat bench      (a stream: current until its first chunk, ended by its end event)
      call_tool
        execute_tool add
      run_agent_step
        chat bench

(the agent's bookkeeping steps make none). Modes as in ``llama_index_step.py``, whose
handlers this uses: ``plain``, ``noop`` (no-op span and event handlers on the root
dispatcher), ``bare`` (handlers there opening bare SDK spans with the names, kinds,
parents and attributes of ours, replayed in order from one instrumented run and
checked against ours before the count), ``ours`` (``LlamaIndexInstrumentor().instrument()``
before the agent and its tool are built, so the tool's executor call goes through our
``sync_to_async`` patch as in a program that instruments at startup)::

    python benchmarks/icount/llama_index_agent.py MODE CALLS
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from _icount import measure_async, parse_args, settle, tracing
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool
from llama_index_overhead import ToolThenAnswer, add
from llama_index_step import check_bare, collecting, install

from instrumentors.llama_index import LlamaIndexInstrumentor

MODES = ("plain", "noop", "bare", "ours")
# LlamaIndex span name (its span id up to the first "-") -> the name of the span ours makes.
PLAN: Final = {
    "FunctionAgent.run": "invoke_agent calc",
    "BaseWorkflowAgent.run_agent_step": "run_agent_step",
    "ToolThenAnswer.astream_chat": "chat bench",
    "BaseWorkflowAgent.call_tool": "call_tool",
    "FunctionTool.acall": "execute_tool add",
}


def build() -> Callable[[], Awaitable[object]]:
    """A fresh agent (its LLM's script at the start); one call is one run."""
    tool = FunctionTool.from_defaults(fn=add)
    agent = FunctionAgent(name="calc", tools=[tool], llm=ToolThenAnswer())

    async def run() -> object:
        return await agent.run(user_msg="What is 1 + 2?")

    return run


async def run_mode(mode: str, calls: int) -> None:
    _, exporter = tracing()
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    run = build()
    with collecting(exporter) as ours:  # the spans ours makes (one run, outside the count)
        await run()
    if mode != "ours":
        instrumentor.uninstrument()
        run = build()
    install(mode, PLAN, ours)
    if mode == "bare":
        with collecting(exporter) as bare:
            await run()
        check_bare(ours, bare)
    settle()
    await measure_async(mode, run, calls, warmup=10, exporter=exporter)


def main() -> None:
    mode, calls = parse_args(MODES)
    asyncio.run(run_mode(mode, calls))


if __name__ == "__main__":
    main()
