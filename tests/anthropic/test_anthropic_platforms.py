"""``AnthropicBedrock``, ``AnthropicVertex``: the same Messages resources, their own providers."""

from __future__ import annotations

import pytest
from ant_support import MESSAGES, all_strings, chat_spans

from instrumentors import semconv
from tests.fakes.anthropic_server import Reply, ToolUse

anthropic = pytest.importorskip("anthropic")

BEDROCK_MODEL = "anthropic.claude-sonnet-test-v1:0"
VERTEX_MODEL = "claude-sonnet-test@20250101"


def test_bedrock(exporter, instrumented, server) -> None:
    pytest.importorskip("botocore")  # the Bedrock client signs its requests with botocore
    client = anthropic.AnthropicBedrock(
        aws_access_key="AKIAIOSFODNN7EXAMPLE",
        aws_secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        aws_region="us-east-1",
        base_url=server.base_url,
        max_retries=0,
    )
    server.script(Reply.tools(ToolUse("get_weather", {"city": "Paris"}, id="toolu_b1")))
    message = client.messages.create(model=BEDROCK_MODEL, max_tokens=32, messages=MESSAGES)
    assert server.requests[-1].path == f"/model/{BEDROCK_MODEL}/invoke"
    (span,) = chat_spans(exporter.get_finished_spans())
    assert span.name == f"chat {BEDROCK_MODEL}"
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert span.attributes[semconv.SERVER_PORT] == server.port
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("toolu_b1",)
    assert "wJalrXUtnFEMI" not in all_strings(span)


@pytest.mark.parametrize("streamed", [False, True])
def test_vertex(exporter, instrumented, server, streamed) -> None:
    client = anthropic.AnthropicVertex(
        region="us-east5",
        project_id="proj-1",
        access_token="ya29.vertex-token-sentinel",
        base_url=server.base_url,
        max_retries=0,
    )
    if streamed:
        with client.messages.stream(model=VERTEX_MODEL, max_tokens=32, messages=MESSAGES) as s:
            message = s.get_final_message()
    else:
        message = client.messages.create(model=VERTEX_MODEL, max_tokens=32, messages=MESSAGES)
    action = "streamRawPredict" if streamed else "rawPredict"
    assert server.requests[-1].path.endswith(f"/models/{VERTEX_MODEL}:{action}")
    (span,) = chat_spans(exporter.get_finished_spans())
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert "vertex-token-sentinel" not in all_strings(span)


async def test_async_vertex(exporter, instrumented, server) -> None:
    client = anthropic.AsyncAnthropicVertex(
        region="us-east5", project_id="p", access_token="t", base_url=server.base_url
    )
    message = await client.messages.create(model=VERTEX_MODEL, max_tokens=8, messages=MESSAGES)
    (span,) = chat_spans(exporter.get_finished_spans())
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == message.id
