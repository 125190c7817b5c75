"""Every Anthropic SDK private name ``instrumentors/anthropic/_compat.py`` relies on, checked here.

A failure here means the SDK renamed or dropped a name: the feature it serves is
skipped at run time (one DEBUG log), and this test tells the compat matrix first.
Also: the public surface the package relies on, and what happens when a private
name is gone.
"""

from __future__ import annotations

import importlib
import inspect
import logging

import pytest
from ant_support import MODEL, SDK_SCOPE, create, events

from instrumentors import semconv
from instrumentors.anthropic import _compat
from tests.fakes.anthropic_server import Reply

anthropic = pytest.importorskip("anthropic")

# ----------------------------------------------------------------------------- private names


def test_the_names_listed_are_the_names_checked() -> None:
    assert {name for _, name in _compat.PRIVATE_NAMES} == {
        "SyncAPIResource._client",
        _compat.RETRY_METHOD,
        *_compat.SLEEP_METHODS,
        _compat.SDK_SPAN_FUNCTION,
    }


def test_resources_keep_their_client_as_client() -> None:
    client = anthropic.Anthropic(base_url="http://sdk.test", api_key="k")
    aclient = anthropic.AsyncAnthropic(base_url="http://sdk.test", api_key="k")
    for resource, owner in [
        (client.messages, client),
        (client.beta.messages, client),
        (aclient.messages, aclient),
        (aclient.beta.messages, aclient),
    ]:
        assert _compat.client_of(resource) is owner


def test_the_retry_methods_exist_on_every_client() -> None:
    module = importlib.import_module(_compat.BASE_CLIENT)
    for dotted in (_compat.RETRY_METHOD, *_compat.SLEEP_METHODS):
        owner_name, method = dotted.split(".")
        owner = getattr(module, owner_name)
        assert callable(getattr(owner, method)), dotted
    assert _compat.retry_hook_available()
    sync_sleep = inspect.signature(module.SyncAPIClient._sleep_for_retry).parameters
    assert "response" in sync_sleep  # read as a keyword
    assert "response" in inspect.signature(module.AsyncAPIClient._sleep_for_retry).parameters
    assert issubclass(anthropic.Anthropic, module.SyncAPIClient)
    assert issubclass(anthropic.AsyncAnthropic, module.AsyncAPIClient)


def test_the_sdk_span_function_exists_where_the_sdk_traces_itself() -> None:
    module = importlib.import_module(_compat.BASE_CLIENT)
    if not _compat.sdk_traces_itself():
        assert not _compat.sdk_span_hook_available()  # 0.x: nothing to leave out
        return
    function = getattr(module, _compat.SDK_SPAN_FUNCTION)
    assert callable(function)
    assert _compat.sdk_span_hook_available()


# ----------------------------------------------------------------------------- public surface


def test_the_public_names_used() -> None:
    from anthropic.lib.streaming import (
        AsyncMessageStream,
        AsyncMessageStreamManager,
        MessageStream,
        MessageStreamManager,
    )

    for name in ("Stream", "AsyncStream", "APIResponse", "AsyncAPIResponse", "BaseModel"):
        assert isinstance(getattr(anthropic, name), type)
    for name in ("AnthropicBedrock", "AnthropicVertex", "AsyncAnthropicVertex"):
        assert isinstance(getattr(anthropic, name), type)
    for helper in (MessageStream, AsyncMessageStream):
        for method in ("get_final_message", "get_final_text", "until_done", "close"):
            assert callable(getattr(helper, method)), (helper, method)
    assert hasattr(MessageStreamManager, "__enter__")
    assert hasattr(AsyncMessageStreamManager, "__aenter__")
    url = anthropic.Anthropic(base_url="http://sdk.test:8080", api_key="k").base_url
    assert (url.host, url.port) == ("sdk.test", 8080)


def test_raw_responses_are_known_by_their_public_surface(client) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=8, messages=[])
    assert callable(raw.parse)
    assert raw.http_response.status_code == 200


# ----------------------------------------------------------------------------- when one is gone


@pytest.fixture
def fresh_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compat, "_reported", set())


def test_a_resource_without_its_client(
    exporter, instrumented, client, monkeypatch, caplog, fresh_reports
) -> None:
    original = _compat.client_of
    monkeypatch.setattr(_compat, "client_of", lambda resource: original(object()))
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        first = create(client)
        create(client)
    span, _ = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == first.id
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert semconv.SERVER_ADDRESS not in span.attributes
    assert caplog.text.count("anthropic has no APIResource._client") == 1


def test_no_retry_events_without_the_retry_method(
    exporter, instrument, client, server, monkeypatch, caplog, fresh_reports
) -> None:
    monkeypatch.setattr(_compat, "RETRY_METHOD", "BaseClient._renamed_retry_timeout")
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        instrument()
        server.script(Reply.rate_limited(retry_after=0.01), Reply())
        message = create(client)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert events(span, semconv.EVENT_RETRY_ATTEMPTED) == []
    assert [r.retry_count for r in server.requests] == [0, 1]  # the SDK still retried
    assert caplog.text.count("_renamed_retry_timeout any more") == 1


def test_no_status_on_retries_without_the_sleep_method(
    exporter, instrument, client, server, monkeypatch, fresh_reports
) -> None:
    renamed = tuple(m.replace("_sleep_for_retry", "_renamed_sleep") for m in _compat.SLEEP_METHODS)
    monkeypatch.setattr(_compat, "SLEEP_METHODS", renamed)
    from instrumentors.anthropic import _wrappers

    _rebuild_patches(_wrappers, monkeypatch)
    instrument()
    server.script(Reply.rate_limited(retry_after=0.01), Reply())
    create(client)
    (span,) = exporter.get_finished_spans()
    (retry,) = events(span, semconv.EVENT_RETRY_ATTEMPTED)  # still seen
    assert retry[semconv.RETRY_ATTEMPT] == 1
    # Its status only where the SDK retries a status answer inside an ``except`` (0.x).
    assert retry.get(semconv.HTTP_RESPONSE_STATUS_CODE, 429) == 429


def _rebuild_patches(wrappers, monkeypatch):  # type: ignore[no-untyped-def]
    """The table rebuilt from the renamed names, for this test only: the original table is
    put back first, so the monkeypatch restores it (not the rebuilt one) at teardown."""
    original = wrappers.PATCHES
    rebuilt = importlib.reload(wrappers).PATCHES
    wrappers.PATCHES = original
    monkeypatch.setattr(wrappers, "PATCHES", rebuilt)


def test_the_sdk_span_stays_without_its_hook(
    exporter, instrument, client, monkeypatch, caplog, fresh_reports
) -> None:
    if not _compat.sdk_traces_itself():
        pytest.skip("this anthropic release makes no spans of its own")
    monkeypatch.setattr(_compat, "SDK_SPAN_FUNCTION", "renamed_api_call_span")
    from instrumentors.anthropic import _wrappers

    _rebuild_patches(_wrappers, monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        instrument()
        create(client)
    scopes = sorted(s.instrumentation_scope.name for s in exporter.get_finished_spans())
    assert scopes == [SDK_SCOPE, "instrumentors.anthropic"]  # degraded: two spans
    assert "renamed_api_call_span any more" in caplog.text
