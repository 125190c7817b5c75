"""Stream proxies: the chat span stays open while the user reads, and ends exactly once.

The proxies of the SDK's ``Stream`` / ``AsyncStream`` (and of ``with_streaming_response``
and ``with_raw_response`` results) are the shared ones (``instrumentors._sdk_streams``);
what is OpenAI's is here: the accumulators that read its chunks (``_accumulators``),
``AsyncStream.aclose`` where the SDK has it, and the ``.stream()`` helpers, whose
``close`` closes the HTTP response without the raw stream's ``close``.
"""

from __future__ import annotations

import weakref
from typing import Any, Final

from instrumentors import _sdk_streams
from instrumentors._sdk_streams import Accumulator, Proxies, StreamMixin
from instrumentors.openai import _client
from instrumentors.openai._accumulators import ChatAccumulator, ResponsesAccumulator

__all__ = ["PROXIES", "Accumulator", "ChatAccumulator", "ResponsesAccumulator"]


class AsyncStreamProxy(_sdk_streams.AsyncStreamProxy):
    """An ``AsyncStream`` whose span ends with it."""

    if _client.ASYNC_STREAM_HAS_ACLOSE:
        aclose = _sdk_streams.aending_after("aclose")


PROXIES: Final = Proxies(async_stream=AsyncStreamProxy)

# ``.stream()`` helper -> the stream proxy it reads (kept while the helper lives).
_helpers: weakref.WeakKeyDictionary[Any, StreamMixin] = weakref.WeakKeyDictionary()


def track_helper(helper: Any, raw_stream: Any) -> None:
    """A ``.stream()`` helper was made over ``raw_stream`` (its public constructor argument)."""
    if isinstance(raw_stream, StreamMixin):
        _helpers[helper] = raw_stream


def end_helper_stream(helper: Any) -> None:
    """End the span under a ``.stream()`` helper that closed its HTTP response directly."""
    raw = _helpers.pop(helper, None)
    if raw is not None:
        raw._self_end()
