"""Every google-genai private name ``instrumentors/google_genai/_compat.py`` relies on, checked
here; and what happens when one is gone.

A failure here means the SDK renamed or dropped a name: the feature it serves is
skipped at run time (one DEBUG log), and this test tells the compat matrix first.
"""

from __future__ import annotations

import importlib
import inspect
import logging

import pytest
from genai_support import MODEL, PROMPT, events, get_weather

from instrumentors.google_genai import _compat
from tests.fakes.gemini_server import Call, Reply

genai = pytest.importorskip("google.genai")

# ----------------------------------------------------------------------------- private names


@pytest.mark.parametrize(
    ("module", "name"),
    [(m, n) for m, n in _compat.PRIVATE_NAMES if not n.endswith(_compat.RESOURCE_CLIENT)],
)
def test_each_private_function_exists(module: str, name: str) -> None:
    *owners, attribute = name.split(".")
    owner = importlib.import_module(module)
    for part in owners:
        owner = getattr(owner, part)
    assert callable(getattr(owner, attribute))
    assert _compat.available(module, name, "test")


def test_the_hooks_keep_their_signatures() -> None:
    utils = importlib.import_module(_compat.AFC_MODULE)
    for name in (_compat.TURN, _compat.ASYNC_TURN):
        assert next(iter(inspect.signature(getattr(utils, name)).parameters)) == "response"
    for name in (_compat.INVOKE, _compat.ASYNC_INVOKE):
        assert list(inspect.signature(getattr(utils, name)).parameters)[:2] == [
            "args", "function_to_invoke",
        ]  # fmt: skip
    assert inspect.iscoroutinefunction(getattr(utils, _compat.ASYNC_INVOKE))


def test_resources_keep_their_api_client() -> None:
    client = genai.Client(api_key="k", http_options={"base_url": "http://sdk.test"})
    for resource in (client.models, client.aio.models):
        api = _compat.api_client_of(resource)
        assert api is not None
        assert api.get_read_only_http_options()["base_url"].startswith("http://sdk.test")
        assert api.vertexai in (False, None)


# ----------------------------------------------------------------------------- when one is gone


@pytest.fixture
def fresh_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compat, "_reported", set())


def test_a_resource_without_its_api_client(
    exporter, instrumented, client, monkeypatch, caplog, fresh_reports
) -> None:
    monkeypatch.setattr(_compat, "RESOURCE_CLIENT", "_renamed_api_client")
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        client.models.generate_content(model=MODEL, contents=PROMPT)
        client.models.generate_content(model=MODEL, contents=PROMPT)
    span, _ = exporter.get_finished_spans()
    assert span.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert "server.address" not in span.attributes
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert caplog.text.count("google-genai has no BaseModule._api_client") == 1


def _renamed(rows: tuple, renamed: set[str]) -> tuple:
    """The patch table as it is when the SDK renamed these private names."""
    from instrumentors.google_genai import _wrappers

    return tuple(
        _wrappers._private(row.module, "_renamed_" + row.attribute, row.factory, "the feature")
        if row.attribute in renamed
        else row
        for row in rows
    )


@pytest.mark.parametrize("gone", ["hooks", "attempts"])
def test_without_the_sdk_internal_hooks(
    exporter, instrument, client, server, monkeypatch, caplog, fresh_reports, gone: str
) -> None:
    from instrumentors.google_genai import _wrappers

    hooks = {_compat.TURN, _compat.ASYNC_TURN, _compat.INVOKE, _compat.ASYNC_INVOKE}
    renamed = hooks if gone == "hooks" else {_compat.ATTEMPT}
    monkeypatch.setattr(_wrappers, "PATCHES", _renamed(_wrappers.PATCHES, renamed))
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        instrument()
        server.script(Reply.failure(429), Reply.with_calls(Call("get_weather", {"city": "P"})),
                      Reply(text="done"))  # fmt: skip
        response = client.models.generate_content(
            model=MODEL, contents=PROMPT, config={"tools": [get_weather]}
        )
    assert response.text == "done"  # the SDK still retried and ran the function
    spans = exporter.get_finished_spans()
    (chat,) = [s for s in spans if s.name == f"chat {MODEL}"]
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    if gone == "hooks":
        assert len(spans) == 1  # no tool span; the chat span is whole
        assert "_renamed_get_function_response_parts any more" in caplog.text
        assert len(events(chat, "retry.attempted")) == 1
    else:
        assert sorted(s.name for s in spans) == [f"chat {MODEL}", "execute_tool get_weather"]
        assert events(chat, "retry.attempted") == []
        assert "_renamed_BaseApiClient._request_once any more" in caplog.text
