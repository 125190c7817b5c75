"""Hand-built LangGraph graphs, instrumented: node steps current in their bodies, interrupts and
parent commands as control flow (not errors)."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import pytest
from lc_support import (
    InMemorySaver,
    ancestors,
    current_span_name,
    interrupt_api,
    named,
    one,
    parent_of,
    tree,
)
from opentelemetry.trace import StatusCode

pytestmark = pytest.mark.usefixtures("instrumented")

SEEN: list[tuple[str, str]] = []


class State(TypedDict):
    x: int


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    SEEN.clear()


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_node_span_current_in_its_body(exporter: Any, mode: str) -> None:
    """A graph node's step span is current while the node's own code runs (in LangGraph's
    worker thread or task), so HTTP and manual spans in it nest under the step."""
    from langgraph.graph import END, START, StateGraph

    def work(state: State) -> State:
        SEEN.append(("work", current_span_name()))
        return {"x": state["x"] + 1}

    async def awork(state: State) -> State:
        return work(state)

    graph = StateGraph(State)
    graph.add_node("work", work if mode == "invoke" else awork)
    graph.add_edge(START, "work")
    graph.add_edge("work", END)
    app = graph.compile()
    result = app.invoke({"x": 1}) if mode == "invoke" else asyncio.run(app.ainvoke({"x": 1}))
    assert result == {"x": 2}
    assert SEEN == [("work", "work")]
    spans = exporter.get_finished_spans()
    assert parent_of(spans, one(spans, "work")).name == "invoke_agent LangGraph"


def test_node_interrupt_and_parent_command_are_not_errors(exporter: Any) -> None:
    from langgraph.graph import END, START, StateGraph

    types = interrupt_api()

    def ask(state: State) -> State:
        return {"x": types.interrupt("value?")}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    app = graph.compile(checkpointer=InMemorySaver(), name="asker")
    config = {"configurable": {"thread_id": "T-n"}}
    app.invoke({"x": 0}, config)
    assert app.invoke(types.Command(resume=5), config) == {"x": 5}

    def jump(state: State) -> Any:
        return types.Command(graph=types.Command.PARENT, goto="fin", update={"x": 100})

    sub = StateGraph(State)
    sub.add_node("jump", jump)
    sub.add_edge(START, "jump")
    parent = StateGraph(State)
    parent.add_node("sub", sub.compile())
    parent.add_node("fin", lambda s: {"x": s["x"] + 1})
    parent.add_edge(START, "sub")
    parent.add_edge("fin", END)
    assert parent.compile().invoke({"x": 0}) == {"x": 101}

    spans = exporter.get_finished_spans()
    assert len(named(spans, "invoke_agent asker")) == 2
    assert len(named(spans, "ask")) == 2
    assert all(s.status.status_code is not StatusCode.ERROR for s in spans), tree(spans)
    # The subgraph node is a step; its default-named graph run adds no span of its own.
    assert ancestors(spans, one(spans, "jump")) == ["sub", "invoke_agent LangGraph"]


def test_node_interrupt_is_not_an_error(exporter: Any) -> None:
    """NodeInterrupt (every langgraph version): the node and the graph end without error."""
    import warnings

    from langgraph.errors import NodeInterrupt
    from langgraph.graph import END, START, StateGraph

    def gate(state: State) -> State:
        if state["x"] == 0:
            raise NodeInterrupt("needs a value")
        return {"x": state["x"] * 10}

    graph = StateGraph(State)
    graph.add_node("gate", gate)
    graph.add_edge(START, "gate")
    graph.add_edge("gate", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "T-gate"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app.invoke({"x": 0}, config)
        app.update_state(config, {"x": 2})
        assert app.invoke(None, config) == {"x": 20}

    spans = exporter.get_finished_spans()
    assert len(named(spans, "invoke_agent LangGraph")) == 2, tree(spans)
    assert len(named(spans, "gate")) == 2, tree(spans)
    assert all(s.status.status_code is StatusCode.UNSET for s in spans), tree(spans)
