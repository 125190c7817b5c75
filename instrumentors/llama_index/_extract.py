"""LlamaIndex objects -> what the core needs: span kinds, agents, steps, tools, retrievers.

Everything here reads LlamaIndex objects defensively (duck typing, both 0.12 and
0.14 shapes, public attributes; the private ones through ``_compat``); nothing
here starts spans or decides what is captured. LLM objects and responses are
read in ``_extract_llm.py``.
"""

from __future__ import annotations

import enum
import inspect
import sys
from dataclasses import dataclass
from typing import Any, Final

from instrumentors import semconv
from instrumentors.llama_index._compat import private_top_k
from instrumentors.llama_index._extract_llm import llm_model, usable_name


class Kind(enum.Enum):
    """What a LlamaIndex span becomes."""

    AGENT = "agent"  # a workflow / agent run
    STEP = "step"  # a workflow step
    LLM = "llm"
    TOOL = "tool"
    RETRIEVAL = "retrieval"
    EMBEDDING = "embedding"
    QUERY = "query"  # a query engine query (a step span named after the engine)


_LLM_METHODS: Final = frozenset(
    {
        "chat",
        "achat",
        "stream_chat",
        "astream_chat",
        "complete",
        "acomplete",
        "stream_complete",
        "astream_complete",
    }
)
_TOOL_METHODS: Final = frozenset({"call", "acall", "__call__"})
_RETRIEVER_METHODS: Final = frozenset({"retrieve", "aretrieve"})
_EMBEDDING_METHODS: Final = frozenset(
    {
        "get_query_embedding",
        "aget_query_embedding",
        "get_text_embedding",
        "aget_text_embedding",
        "get_text_embedding_batch",
        "aget_text_embedding_batch",
    }
)
_QUERY_METHODS: Final = frozenset({"query", "aquery"})
# Steps of LlamaIndex's own agents that only move state between the two that matter
# (``run_agent_step``: the model call; ``call_tool``): no span of their own, which
# halves the spans of an agent run. What runs inside them nests under the agent.
_AGENT_BOOKKEEPING_STEPS: Final = frozenset(
    {"init_run", "setup_agent", "parse_agent_output", "aggregate_tool_results"}
)
# Where LlamaIndex's own agents live: read once the program imported it, never imported here.
_AGENTS_MODULE: Final = "llama_index.core.agent.workflow"
_RUN_METHODS: Final = frozenset({"run", "run_from"})
# Workflow control flow, not failures: the 0.12 ``_done`` step, human-in-the-loop
# pauses, user cancellation, cancelled step tasks, closed streams.
_CONTROL_FLOW: Final = frozenset(
    {
        "WorkflowDone",
        "WaitingForEvent",
        "WorkflowCancelledByUser",
        "CancelledError",
        "GeneratorExit",
    }
)


@dataclass(frozen=True, slots=True)
class Types:
    """The LlamaIndex base classes spans are classified by (loaded once, at start).

    ``import llama_index.core`` loads them all (``workflow.handler`` is a one-line
    re-export of a loaded module): starting imports nothing the program does not.
    """

    llm: type
    tool: type
    datastore_tools: tuple[type, ...]
    retriever: type
    embedding: type
    query_engine: type
    workflow: type
    # workflows 1.x (core 0.12): ``Workflow.run`` returns a Future and its span ends
    # in a done-callback in another context, so it must never be attached.
    run_is_future: bool
    handler: type  # what ``Workflow.run`` returns


def load_types() -> Types:
    """The base classes (both 0.12 and 0.14 paths)."""
    import asyncio

    from llama_index.core.base.base_query_engine import BaseQueryEngine
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.base.llms.base import BaseLLM
    from llama_index.core.tools import QueryEngineTool, RetrieverTool
    from llama_index.core.tools.types import BaseTool
    from llama_index.core.workflow import Workflow
    from llama_index.core.workflow.handler import (  # type: ignore[attr-defined]
        WorkflowHandler,
    )

    return Types(
        llm=BaseLLM,
        tool=BaseTool,
        datastore_tools=(QueryEngineTool, RetrieverTool),
        retriever=BaseRetriever,
        embedding=BaseEmbedding,
        query_engine=BaseQueryEngine,
        workflow=Workflow,
        run_is_future=issubclass(WorkflowHandler, asyncio.Future),
        handler=WorkflowHandler,
    )


def method_of(name: str) -> str:
    """``"FunctionTool.acall"`` -> ``"acall"``."""
    return name.rpartition(".")[2]


def classify(types: Types, instance: object, method: str) -> Kind | None:
    """The kind of span a bound-method span becomes; None for internal noise."""
    if isinstance(instance, types.llm):
        return Kind.LLM if method in _LLM_METHODS else None
    if isinstance(instance, types.tool):
        return Kind.TOOL if method in _TOOL_METHODS else None
    if isinstance(instance, types.retriever):
        return Kind.RETRIEVAL if method in _RETRIEVER_METHODS else None
    if isinstance(instance, types.embedding):
        return Kind.EMBEDDING if method in _EMBEDDING_METHODS else None
    if isinstance(instance, types.query_engine):
        return Kind.QUERY if method in _QUERY_METHODS else None
    if isinstance(instance, types.workflow):
        if method in _RUN_METHODS:
            return Kind.AGENT
        # 0.12 steps are bound methods of the workflow; ``_done`` only raises WorkflowDone.
        return None if method == "_done" else Kind.STEP
    return None


_agent_types: list[tuple[type, ...]] = []  # once found: classes never change


def agent_types() -> tuple[type, ...]:
    """LlamaIndex's own agent workflow classes; none until the program imported them."""
    if _agent_types:
        return _agent_types[0]
    module = sys.modules.get(_AGENTS_MODULE)
    found = (getattr(module, "BaseWorkflowAgent", None), getattr(module, "AgentWorkflow", None))
    types = tuple(t for t in found if isinstance(t, type))
    if len(types) == len(found):
        _agent_types.append(types)
    return types


def is_bookkeeping(workflow: object, step: str) -> bool:
    """True for an internal step of LlamaIndex's own agents (no span of its own)."""
    return step in _AGENT_BOOKKEEPING_STEPS and isinstance(workflow, agent_types())


def is_control_flow(exc: BaseException | None) -> bool:
    """True for exceptions workflows use to steer, which are not failures."""
    return exc is not None and any(c.__name__ in _CONTROL_FLOW for c in type(exc).__mro__)


def agent_info(instance: Any) -> tuple[str, str | None, str | None]:
    """Name, description and model of an agent or workflow."""
    name = getattr(instance, "name", None)
    if not isinstance(name, str) or not name:
        name = type(instance).__name__
    description = getattr(instance, "description", None)
    model = llm_model(instance.llm) if getattr(instance, "llm", None) is not None else None
    return name, description if isinstance(description, str) else None, model


def step_agent(event: object) -> str | None:
    """The agent a multi-agent workflow step runs for (its input event says)."""
    name = getattr(event, "current_agent_name", None)
    return name if isinstance(name, str) and name else None


def tool_info(types: Types, instance: Any) -> tuple[str, str | None, str]:
    """Name, description and ``gen_ai.tool.type`` of a LlamaIndex tool."""
    metadata = instance.metadata
    name = getattr(metadata, "name", None) or type(instance).__name__
    description = getattr(metadata, "description", None)
    kind = (
        semconv.TOOL_TYPE_DATASTORE
        if isinstance(instance, types.datastore_tools)
        else semconv.TOOL_TYPE_FUNCTION
    )
    return str(name), description if isinstance(description, str) else None, kind


def tool_params(instance: Any, bound: inspect.BoundArguments) -> dict[str, Any]:
    """What the tool receives: its keyword dict, or ``{"input": str}`` for a single string."""
    arguments = bound.arguments
    args = tuple(arguments.get("args") or ())
    kwargs = dict(arguments.get("kwargs") or {})
    ctx_param = getattr(instance, "ctx_param_name", None)
    if ctx_param:
        kwargs.pop(ctx_param, None)  # the workflow Context injected by agents is not input
    if not args:
        return kwargs
    if len(args) == 1 and not kwargs and isinstance(args[0], str):
        return {"input": args[0]}
    fn = getattr(instance, "fn", None)
    if callable(fn):
        try:
            return dict(inspect.signature(fn).bind_partial(*args, **kwargs).arguments)
        except (TypeError, ValueError):
            pass
    return {"args": list(args), **kwargs}


def tool_call_id(step_event: object, tool_name: str) -> str | None:
    """The tool call id a ``call_tool`` step's ``ToolCall`` event carries for this tool."""
    call_id = getattr(step_event, "tool_id", None)
    if not isinstance(call_id, str) or getattr(step_event, "tool_name", None) != tool_name:
        return None
    return call_id


def tool_result(output: Any) -> Any:
    """The content of a ``ToolOutput``: what the model is shown (recorded only under capture)."""
    content = getattr(output, "content", None)
    return content if content is not None else output


def retriever_info(instance: Any) -> tuple[str, int | None]:
    """Retriever name (its class) and its ``similarity_top_k`` when it has one."""
    top_k = getattr(instance, "similarity_top_k", None)
    if isinstance(top_k, int) and not isinstance(top_k, bool):
        return type(instance).__name__, top_k
    return type(instance).__name__, private_top_k(instance)


def document_count(result: object) -> int | None:
    """Number of nodes a retriever returned."""
    return len(result) if isinstance(result, list) else None


def embedding_model(instance: Any) -> str | None:
    """The embedding model name."""
    return usable_name(getattr(instance, "model_name", None)) or usable_name(
        getattr(instance, "model", None)
    )


def embedding_dimension(result: object) -> int | None:
    """Vector length of a single embedding or of the first of a batch."""
    if not isinstance(result, list) or not result:
        return None
    first = result[0]
    return len(first) if isinstance(first, list) else len(result)
