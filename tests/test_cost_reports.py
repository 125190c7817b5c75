"""Cost where people read it: the SLI table (per tool, model, agent and session, and the
cost objective), the tree view, a gateway's own price, the framework layers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import instrumentors
from instrumentors import cost, semconv
from instrumentors.export import render_trace
from instrumentors.sli import Objective, SLIProcessor
from instrumentors.telemetry import Telemetry
from tests._instrumenting import instrumenting

genai_prices = pytest.importorskip("genai_prices")

PRICES = {
    "model-a": {"input_mtok": 1.0, "output_mtok": 4.0},  # 1000 in + 500 out = $0.003
    "model-b": {"input_mtok": 10.0, "output_mtok": 10.0},  # 1000 in + 500 out = $0.015
}


@pytest.fixture(autouse=True)
def _known_prices() -> Iterator[None]:
    cost.configure(PRICES)
    yield
    cost.configure(None)


def _chat(tel: Telemetry, model: str) -> None:
    run = tel.llm("openai", model)
    run.set_usage(input_tokens=1000, output_tokens=500)
    run.stop()


def _agent_run(tel: Telemetry, models: tuple[str, ...], tool_cost: float = 0.0) -> None:
    @instrumentors.tool(cost=tool_cost or None)
    def lookup(q: str) -> str:
        _chat(tel, "model-a")  # an LLM-backed tool: its model call counts in its total
        return q

    agent = tel.agent("planner")
    for model in models:
        _chat(tel, model)
    lookup("x")
    agent.stop()


def _sli(exporter: Any, **objective: float) -> SLIProcessor:
    sli = SLIProcessor(default=Objective(**objective) if objective else None, min_calls=1)
    for span in exporter.get_finished_spans():
        sli.on_end(span)
    return sli


def _rows(sli: SLIProcessor) -> dict[tuple[str, str], Any]:
    return {(row.operation, row.name): row for row in sli.report()}


def test_sli_costs_per_model_tool_and_agent(exporter) -> None:
    tel = Telemetry("t")
    _agent_run(tel, ("model-a", "model-b"), tool_cost=0.001)
    _agent_run(tel, ("model-a",))
    rows = _rows(_sli(exporter))
    model_a = rows[(semconv.OP_CHAT, "model-a")].cost
    assert model_a.calls == 4  # two in the agents, two inside the tool
    assert model_a.total == pytest.approx(4 * 0.003)
    assert model_a.mean == pytest.approx(0.003)
    assert model_a.p95 == pytest.approx(0.003, rel=0.02)
    assert rows[(semconv.OP_CHAT, "model-b")].cost.total == pytest.approx(0.015)
    tool = rows[(semconv.OP_EXECUTE_TOOL, "lookup")].cost
    assert tool.total == pytest.approx(0.001 + 2 * 0.003)  # its own fee once, its model calls
    agent = rows[(semconv.OP_INVOKE_AGENT, "planner")].cost
    # Run 1: a + b + tool (fee + a) = 0.022; run 2: a + tool (a) = 0.006.
    assert agent.total == pytest.approx(0.022 + 0.006)
    assert agent.p95 == pytest.approx(0.022, rel=0.02)


def test_cost_objective_per_run_met_missed_budget_and_burn(exporter) -> None:
    tel = Telemetry("t")
    _agent_run(tel, ("model-b",))  # 0.015 + 0.003 = 0.018
    _agent_run(tel, ("model-a",))  # 0.003 + 0.003 = 0.006
    agent = _rows(_sli(exporter, cost_per_run=0.01))[(semconv.OP_INVOKE_AGENT, "planner")].cost
    assert agent.cost_per_run == 0.01
    assert agent.met is False  # p95 per run is 0.018
    assert agent.budget_remaining == pytest.approx(1 - 0.024 / 0.02)
    assert agent.burn_rate == pytest.approx(0.012 / 0.01)
    generous = _rows(_sli(exporter, cost_per_run=0.05))[(semconv.OP_INVOKE_AGENT, "planner")]
    assert generous.cost.met is True
    assert generous.cost.budget_remaining == pytest.approx(1 - 0.024 / 0.1)
    # Tools and models are not judged per run.
    assert _rows(_sli(exporter, cost_per_run=0.01))[(semconv.OP_CHAT, "model-a")].cost.met is None
    with pytest.raises(ValueError, match="cost_per_run"):
        Objective(cost_per_run=0)


def test_render_adds_cost_columns_and_a_session_table(exporter) -> None:
    tel = Telemetry("t")
    with instrumentors.session("s-1"):
        _agent_run(tel, ("model-b",))
        _agent_run(tel, ("model-a",))
    with instrumentors.session("s-2"):
        _agent_run(tel, ("model-a",), tool_cost=0.002)
    table = _sli(exporter, cost_per_run=0.01).render()
    lines = table.splitlines()
    header = lines[1]
    assert header.split("  ")[0] == "operation"
    for column in ("cost", "cost/call mean, p95", "cost SLO"):
        assert column in header
    agent_line = next(line for line in lines if line.startswith("invoke_agent"))
    assert "$0.0320" in agent_line  # s-1's runs 0.018 + 0.006, s-2's 0.002 + 0.003 + 0.003
    sessions = lines[lines.index("Cost per session") :]
    s1 = next(line for line in sessions if line.startswith("s-1"))
    s2 = next(line for line in sessions if line.startswith("s-2"))
    # Each model call and fee counted once per session, never the roll-ups again.
    assert s1.split()[1:3] == ["$0.0240", "2"]
    assert s2.split()[1:3] == ["$0.00800", "1"]
    assert "<=$0.0100/run MISSED" in s1 and "<=$0.0100/run ok" in s2


def test_no_cost_no_cost_columns(exporter) -> None:
    @instrumentors.tool
    def free(q: str) -> str:
        return q

    free("x")
    table = _sli(exporter).render()
    assert "cost" not in table


def test_tree_shows_each_model_call_and_the_run_total(exporter) -> None:
    tel = Telemetry("t")
    _agent_run(tel, ("model-b",), tool_cost=0.001)
    text = render_trace(list(exporter.get_finished_spans()))
    lines = text.splitlines()
    root = next(line for line in lines if "invoke_agent planner" in line)
    assert "total cost $0.0190" in root  # model-b 0.015 + the tool's fee 0.001 and model 0.003
    chat_b = next(line for line in lines if "chat model-b" in line)
    assert "cost $0.0150" in chat_b and "total cost" not in chat_b
    tool = next(line for line in lines if "execute_tool lookup" in line)
    assert "cost $0.00100" in tool and "total cost $0.00400" in tool


def test_a_gateway_reported_cost_wins_over_local_prices(exporter) -> None:
    openai = pytest.importorskip("openai")
    from instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer, Reply, Usage

    with instrumenting(OpenAIInstrumentor()), FakeOpenAIServer() as server:
        server.script(Reply(usage=Usage(input_tokens=1000, output_tokens=500, cost=0.0042)))
        server.script(Reply(usage=Usage(input_tokens=1000, output_tokens=500)))
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        for _ in range(2):
            client.chat.completions.create(
                model="model-a", messages=[{"role": "user", "content": "hi"}]
            )
        client.close()
    gateway, local = exporter.get_finished_spans()
    assert gateway.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == 0.0042
    assert gateway.attributes[semconv.GEN_AI_USAGE_COST_SOURCE] == "provider"
    assert local.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(0.003)
    assert local.attributes[semconv.GEN_AI_USAGE_COST_SOURCE] == "local"


def test_langchain_chat_model_calls_are_priced(exporter) -> None:
    pytest.importorskip("langchain_openai")
    from langchain_openai import ChatOpenAI

    from instrumentors.langchain import LangChainInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer, Reply, Usage

    with instrumenting(LangChainInstrumentor()), FakeOpenAIServer() as server:
        server.script(Reply(usage=Usage(input_tokens=1000, output_tokens=500)))
        llm = ChatOpenAI(model="model-b", base_url=server.base_url, api_key="k")
        llm.invoke("hi")
    (chat,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
    assert chat.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(0.015)


def test_embeddings_are_priced_and_rolled_up(exporter) -> None:
    openai = pytest.importorskip("openai")
    from instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer, Reply, Usage

    tel = Telemetry("t")
    with instrumenting(OpenAIInstrumentor()), FakeOpenAIServer() as server:
        server.script(Reply(usage=Usage(input_tokens=200_000)))
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        agent = tel.agent("indexer")
        client.embeddings.create(model="text-embedding-3-small", input="some text")
        agent.stop()
        client.close()
    embedding, run = exporter.get_finished_spans()
    expected = float(
        genai_prices.calc_price(
            genai_prices.Usage(input_tokens=200_000), "text-embedding-3-small", provider_id="openai"
        ).total_price
    )
    assert embedding.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(expected)
    assert run.attributes[semconv.AGENT_COST_TOTAL] == pytest.approx(expected)


def test_a_model_layer_loads_the_prices_in_the_background(monkeypatch) -> None:
    pytest.importorskip("openai")
    import sys

    from instrumentors.openai import OpenAIInstrumentor

    monkeypatch.setattr(cost, "_warming", None)
    with instrumenting(OpenAIInstrumentor()):
        thread = cost._warming
        assert thread is not None and thread.daemon
        thread.join(60)
        assert "genai_prices" in sys.modules
