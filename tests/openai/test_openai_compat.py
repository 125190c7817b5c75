"""Every OpenAI SDK private name ``instrumentors/openai/_compat.py`` relies on, checked here.

A failure here means the SDK renamed or dropped a name: the feature it serves is
skipped at run time (one DEBUG log), and this test tells the compat matrix first.
Also: the public surface that replaced private names, and what happens when a
private name is gone.
"""

from __future__ import annotations

import importlib
import inspect
import logging

import pytest
from oai_support import MESSAGES, MODEL, events

from instrumentors import semconv
from instrumentors.openai import _compat
from tests.fakes.openai_server import Reply

openai = pytest.importorskip("openai")

# ----------------------------------------------------------------------------- private names


def test_resources_keep_their_client_as_client() -> None:
    client = openai.OpenAI(base_url="http://sdk.test/v1", api_key="k")
    aclient = openai.AsyncOpenAI(base_url="http://sdk.test/v1", api_key="k")
    for resource, owner in [
        (client.chat.completions, client),
        (client.responses, client),
        (client.embeddings, client),
        (aclient.chat.completions, aclient),
        (aclient.responses, aclient),
        (aclient.embeddings, aclient),
    ]:
        assert _compat.client_of(resource) is owner


def test_the_retry_delay_method_exists_on_every_client() -> None:
    module = importlib.import_module(_compat.RETRY_MODULE)
    owner_name, method = _compat.RETRY_METHOD.split(".")
    owner = getattr(module, owner_name)
    assert callable(getattr(owner, method))  # only its return value (the delay) is read
    assert _compat.retry_hook_available()
    assert issubclass(openai.OpenAI, owner) and issubclass(openai.AsyncOpenAI, owner)


# ----------------------------------------------------------------------------- public surface


def test_the_public_names_that_replaced_private_ones() -> None:
    from openai.lib.streaming.chat import AsyncChatCompletionStream, ChatCompletionStream
    from openai.lib.streaming.responses import AsyncResponseStream, ResponseStream

    for helper in (ChatCompletionStream, AsyncChatCompletionStream):
        assert "raw_stream" in inspect.signature(helper.__init__).parameters
        assert callable(helper.close)
    for helper in (ResponseStream, AsyncResponseStream):
        assert "raw_stream" in inspect.signature(helper.__init__).parameters
    for name in ("APIResponse", "AsyncAPIResponse", "Stream", "AsyncStream", "BaseModel"):
        assert isinstance(getattr(openai, name), type)
    assert isinstance(openai.OpenAI(base_url="http://sdk.test/v1", api_key="k").base_url.host, str)


def test_raw_responses_are_known_by_their_public_surface(client) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert callable(raw.parse)
    assert raw.http_response.status_code == 200


# ----------------------------------------------------------------------------- when one is gone


@pytest.fixture
def fresh_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compat, "_reported", set())


def test_a_resource_without_its_client(
    exporter, instrumented, client, monkeypatch, caplog, fresh_reports
) -> None:
    monkeypatch.setattr(_compat, "client_of", _compat_client_of_renamed)
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        first = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert first.id
    span, _ = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == first.id
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert semconv.SERVER_ADDRESS not in span.attributes
    assert caplog.text.count("openai has no APIResource._client") == 1


def _compat_client_of_renamed(resource: object) -> object:
    """``client_of`` as it behaves when the SDK renamed ``_client``."""
    return _ORIGINAL_CLIENT_OF(object())


_ORIGINAL_CLIENT_OF = _compat.client_of


def test_no_retry_events_without_the_retry_method(
    exporter, instrument, client, server, monkeypatch, caplog, fresh_reports
) -> None:
    monkeypatch.setattr(_compat, "RETRY_METHOD", "BaseClient._renamed_retry_timeout")
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        instrument()
        server.script(Reply.rate_limited(retry_after=0.01), Reply())
        completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert events(span, semconv.EVENT_RETRY_ATTEMPTED) == []
    assert [r.retry_count for r in server.requests] == [0, 1]  # the SDK still retried
    assert caplog.text.count("_renamed_retry_timeout any more") == 1
