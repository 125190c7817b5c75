"""Redis (a real ``redis-server`` on 127.0.0.1) through the official instrumentation, as
``instrument_all()`` enables it: command spans under the tool, no values, the roll-up."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from tests._spans import one, parent_of
from tests.jobs._servers import redis_port

redis = pytest.importorskip("redis")
pytest.importorskip("opentelemetry.instrumentation.redis")

SECRET = "card-4111-1111"


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@pytest.fixture
def client(companions: Any) -> Iterator[Any]:
    port = redis_port()
    assert companions("redis") == ["redis"]
    connection = redis.Redis(host="127.0.0.1", port=port, db=12)
    connection.flushdb()
    yield connection
    connection.close()


def test_commands_nest_under_the_tool_with_a_roll_up(
    exporter: InMemorySpanExporter, client: Any
) -> None:
    @instrumentors.tool
    def remember(user: str, card: str) -> Any:
        client.set(f"card:{user}", card, ex=60)
        client.incr("visits")
        with contextlib.suppress(redis.ResponseError):  # WRONGTYPE: the key holds a string
            client.lpush(f"card:{user}", "x")
        return client.get(f"card:{user}")

    exporter.clear()
    with instrumentors.session("sess-r"):
        assert remember("bob", SECRET) == SECRET.encode()
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool remember")
    commands = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert [s.name for s in commands] == ["SET", "INCRBY", "LPUSH", "GET"]
    assert all(parent_of(s, spans) is tool for s in commands)
    statements = [attrs(s).get("db.statement", attrs(s).get("db.query.text")) for s in commands]
    assert statements == ["SET ? ? ? ?", "INCRBY ? ?", "LPUSH ? ?", "GET ?"]
    lpush = commands[2]
    assert lpush.status.status_code is StatusCode.ERROR
    rolled = {k: v for k, v in attrs(tool).items() if k.startswith(("db.", "tool.db."))}
    assert rolled == {
        "db.system.name": "redis",
        "tool.db.query_count": 4,
        "tool.db.error_type": "ResponseError",
    }
    assert SECRET not in json.dumps([attrs(s) for s in spans] + [str(s.events) for s in spans])


def test_pipeline(exporter: InMemorySpanExporter, client: Any) -> None:
    @instrumentors.tool
    def batch() -> Any:
        with client.pipeline() as pipe:
            return pipe.set("a", SECRET).get("a").execute()

    exporter.clear()
    assert batch() == [True, SECRET.encode()]
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool batch")
    (pipeline,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert parent_of(pipeline, spans) is tool
    assert attrs(pipeline)["db.statement"] == "SET ? ?\nGET ?"
    assert SECRET not in json.dumps(attrs(pipeline))
    assert attrs(tool)["tool.db.query_count"] == 1
