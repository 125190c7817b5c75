"""Every private LangChain / LangGraph name ``instrumentors.langchain._compat`` relies on exists in
the installed versions (this fails in the compat matrix before users notice), and the public
names used in their place where they exist."""

from __future__ import annotations

import importlib.util

from instrumentors._patching import attribute_exists
from instrumentors.langchain import _compat, _wrappers


def test_child_context_of_langchain_core() -> None:
    """Where a child run's context copy is made: public ``set_config_context`` on newer
    langchain-core, else the private ``_set_config_context`` bound in each caller."""
    if _compat.core_has_public_config_context():
        for module in _wrappers._CONFIG_CONTEXT_CALLERS:
            assert attribute_exists(module, "set_config_context"), module
    else:
        for module, name in _compat.CORE_CHILD_CONTEXT:
            assert attribute_exists(module, name), f"{module}.{name}"


def test_child_context_of_langgraph() -> None:
    """LangGraph's ``_set_config_context`` (``_internal._runnable``; ``utils.runnable`` on 0.2)."""
    internal, legacy = (module for module, _ in _compat.GRAPH_CHILD_CONTEXT)
    module = internal if importlib.util.find_spec("langgraph._internal") is not None else legacy
    assert attribute_exists(module, "_set_config_context"), module


def test_async_llm_helper() -> None:
    """``BaseLLM._agenerate_helper``: where an async completion LLM's generation runs."""
    assert attribute_exists(*_compat.ASYNC_LLM_HELPER)


def test_every_private_row_is_named_here() -> None:
    """The patch rows on private names are exactly the ones this file checks."""
    named = {*_compat.CORE_CHILD_CONTEXT, *_compat.GRAPH_CHILD_CONTEXT, _compat.ASYNC_LLM_HELPER}
    rows = {
        (row.module, row.attribute) for row in _compat.patches(lambda *a: None, lambda *a: None)
    }
    assert rows == named
    private = {
        (row.module, row.attribute)
        for row in _wrappers.PATCHES
        if any(part.startswith("_") for part in (*row.module.split("."), *row.attribute.split(".")))
    }
    assert private == named
