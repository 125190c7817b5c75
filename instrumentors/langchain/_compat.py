"""The only place that names LangChain's and LangGraph's private names.

Everything else in the package stands on public API: ``register_configure_hook`` adds
the handler to every callback manager, public methods (``generate``, ``stream``,
``BaseTool.run``, ``Pregel.stream``, ``set_config_context``...) are wrapped to make
spans current, and the cache is watched through ``BaseCache.lookup``. Three things
have no public route; each is a patch row here, skipped with one DEBUG line (by
``instrumentors._patching``) when its target is gone, and named in
``tests/langchain/test_compat.py``:

- ``_set_config_context``: on langchain-core releases without the public
  ``set_config_context`` (0.3.0 and other early 0.3.x), and in LangGraph (its own copy
  in ``langgraph._internal._runnable``; ``langgraph.utils.runnable`` on 0.2). It runs
  inside the context copy a child run executes in: the only point where a chain's,
  a graph node's (or, on old core, a tool's) span can be made current for its body.
  When gone, those spans are still made and nested, but not current in the body.
- ``BaseLLM._agenerate_helper``: an async completion LLM starts its run in a gathered
  task, so its span can only be made current around the generation itself. When
  gone, async completion LLM spans are not current while the model runs.
"""

from __future__ import annotations

from typing import Any, Final

from instrumentors._patching import Patch, Wrapper, attribute_exists, fixed

# (module, attribute) of every private name this package may patch, for test_compat.
CORE_CHILD_CONTEXT: Final = (
    ("langchain_core.runnables.base", "_set_config_context"),
    ("langchain_core.runnables.fallbacks", "_set_config_context"),
    ("langchain_core.tools.base", "_set_config_context"),
)
GRAPH_CHILD_CONTEXT: Final = (
    ("langgraph._internal._runnable", "_set_config_context"),  # langgraph >= 0.6
    ("langgraph.utils.runnable", "_set_config_context"),  # langgraph 0.2
)
ASYNC_LLM_HELPER: Final = ("langchain_core.language_models.llms", "BaseLLM._agenerate_helper")


def core_has_public_config_context() -> bool:
    """Whether langchain-core has the public ``set_config_context`` (then its private twin
    is not patched: the public wrapper covers the same child contexts)."""
    return attribute_exists("langchain_core.runnables.config", "set_config_context")


def _core_lacks_public() -> bool:
    return not core_has_public_config_context()


def patches(child_context: Wrapper, async_llm: Wrapper) -> tuple[Patch[Any], ...]:
    """The patch rows on private names: ``child_context`` wraps ``_set_config_context``
    (called inside the child run's context copy, config first), ``async_llm`` wraps
    ``BaseLLM._agenerate_helper``."""
    rows: list[Patch[Any]] = [
        Patch(module, name, fixed(child_context), _core_lacks_public)
        for module, name in CORE_CHILD_CONTEXT
    ]
    rows += [Patch(module, name, fixed(child_context)) for module, name in GRAPH_CHILD_CONTEXT]
    rows.append(Patch(ASYNC_LLM_HELPER[0], ASYNC_LLM_HELPER[1], fixed(async_llm)))
    return tuple(rows)
