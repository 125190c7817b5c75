"""One instrumented SDK call: its run, its attempts, and the model turns of automatic
function calling, shared by the wrappers, the stream proxies and the SDK-internal hooks.

A call is current (``ACTIVE``) while the SDK works for it: in the wrapper, and
in a stream proxy while it pulls the next chunk. The hooks inside the SDK (a
request attempt, an automatic-function-calling turn, a function invocation)
find it there, in the same thread or task (``asyncio.to_thread`` copies it).
"""

from __future__ import annotations

from collections import deque
from contextvars import ContextVar
from timeit import default_timer
from typing import Any, Final

from opentelemetry.context import set_value

from instrumentors._errors import error_type, safe_message
from instrumentors.google_genai import _client, _extract
from instrumentors.google_genai._extract import Calls
from instrumentors.telemetry import (
    EmbeddingRun,
    LLMRun,
    Message,
    Telemetry,
    ToolCallRequest,
    ToolRun,
    guard,
)

# TODO(core): a tool run's context should end the enclosing chat run's ownership (a model
# call inside a tool is a request of its own, not a layer of the enclosing one); until
# the core does, the tool spans of automatic function calling start without it.
from instrumentors.telemetry._chat import CHAT_RUN_KEY

START_GUARD: Final = guard("starting a Gemini span")
REQUEST_GUARD: Final = guard("reading a Gemini request")


class Call:
    """What one ``generate_content`` (stream or not) or ``embed_content`` call knows."""

    __slots__ = (
        "calls",
        "chunks",
        "counters",
        "failed_at",
        "failure",
        "memo",
        "pending",
        "recording",
        "retries",
        "run",
        "seen",
        "session",
        "stream",
        "turns",
    )

    def __init__(
        self, run: LLMRun | EmbeddingRun | None, stream: bool = False, session: bool = False
    ) -> None:
        self.run: Any = run
        self.recording: bool = run is not None and run.span.is_recording()
        self.stream = stream
        # A chat session's call (``Chat.send_message``...): its model requests are its turns.
        self.session = session
        self.retries = 0
        self.failure: BaseException | None = None  # the last failed attempt, until the next one
        self.failed_at = 0.0
        # Lazily made: most calls have no function calls and a single turn.
        self.calls: list[ToolCallRequest] | None = None
        self.counters: dict[tuple[str, int], int] = {}
        self.memo: tuple[Any, Calls] | None = None  # the last response read, its calls
        self.pending: dict[str, deque[str | None]] | None = None
        self.turns: _extract.Tokens | None = None  # usage of the turns before the last
        self.seen: list[Any] = []  # the responses counted in ``turns``
        self.chunks: StreamState | None = None  # a stream's, once its first chunk is seen

    def begin(self, run: LLMRun) -> None:
        """A chat session's first model request opened the span (with that request's data)."""
        self.run = run
        self.recording = run.span.is_recording()

    # ------------------------------------------------------------------ requests

    def attempt_started(self) -> None:
        """A request attempt starts; after a failed one, that is a retry."""
        failure = self.failure
        if failure is None:
            self.retries = 0  # a new request (the next turn of the call)
            return
        self.failure = None
        self.retries += 1
        # Our tenacity layer sees the SDK's retry loop too: one event per retry, not two.
        if self.recording and not _client.tenacity_layer_active():
            delay = max(default_timer() - self.failed_at, 0.0)
            _client.on_retry(self.run, self.retries, delay, failure)

    def attempt_failed(self, exc: BaseException) -> None:
        """A request attempt failed (the SDK may retry it)."""
        self.failure = exc
        self.failed_at = default_timer()
        if self.recording:
            _client.on_failed_attempt(self.run, exc)

    def fail(self, exc: BaseException) -> None:
        """The call failed: a 429 the attempt hook did not see is still a rate limit."""
        run = self.run
        try:
            if self.recording and exc is not self.failure:
                _client.on_failed_attempt(run, exc)
        finally:
            enriching = getattr(run, "enriching", False)  # (embeddings have no layers)
            if exc is self.failure and not enriching and _client.tenacity_layer_active():
                # The SDK's retry loop gave up with it: our tenacity layer put the exception
                # event on this span then; one is enough.
                run.fail_with(error_type(exc), safe_message(exc))
            else:
                run.fail(exc)  # an enriching run leaves the exception to its owner

    # ------------------------------------------------------------------ responses

    def calls_of(self, response: Any) -> Calls:
        """The function calls in ``response``, read (and registered for links) once: the
        hooks see a response just before the wrapper or the stream proxy does."""
        memo = self.memo
        if memo is not None and memo[0] is response:
            return memo[1]  # type: ignore[no-any-return]
        found = _extract.function_calls(response, self.counters)
        if found:
            self.memo = (response, found)
            calls = self.calls
            if calls is None:
                calls = self.calls = []
            calls.extend(call for _, call in found)
            if self.recording:
                self.run.register_tool_calls(calls)
        return found

    def chunk(self, chunk: Any) -> None:
        """A streamed chunk (from the stream, or first from an automatic-function-calling turn:
        google-genai 1.x never hands a turn's chunks to the user)."""
        state = self.chunks
        if state is None:
            state = self.chunks = StreamState(self)
        state.add(chunk)

    def turn(self, response: Any) -> None:
        """Automatic function calling is about to run the functions ``response`` asks for."""
        pending = self.pending
        if pending is None:
            pending = self.pending = {}
        if self.stream and self.recording:
            self.chunk(response)
        for index, call in self.calls_of(response):
            if index == 0:  # the SDK runs candidate 0's calls
                pending.setdefault(call.name, deque()).append(call.id)
        if not self.stream and self.recording:  # (a stream's usage is in its chunks)
            if self.turns is None:
                self.turns = _extract.Tokens()
            if not any(seen is response for seen in self.seen):
                self.seen.append(response)
                self.turns.add(response.usage_metadata)

    def next_call_id(self, name: str) -> str | None:
        """The id of the next requested call of function ``name`` (in the SDK's order)."""
        queue = self.pending.get(name) if self.pending else None
        return queue.popleft() if queue else None

    def read(self, response: Any) -> None:
        """A ``GenerateContentResponse``: identity, finish reasons, usage, calls, outputs."""
        run = self.run
        reasons = _extract.finish_reasons(response)
        run.set_response(
            response_id=response.response_id, model=response.model_version, finish_reasons=reasons
        )
        tokens = self.turns
        if tokens is None:  # one model turn: its usage as it is
            _extract.usage(run, response.usage_metadata)
        else:  # automatic function calling: every turn's
            if not any(seen is response for seen in self.seen):
                tokens.add(response.usage_metadata)
            tokens.apply(run)
        calls = self.calls_of(response)
        if run.capture_content:
            run.set_messages(outputs=_extract.output_messages(response, calls, reasons))

    def finish(self, response: Any) -> None:
        """The call returned ``response``: record it and end the span."""
        try:
            if self.recording:
                self.read(response)
        finally:
            self.run.stop()

    # ------------------------------------------------------------------ tools

    def start_tool(self, tel: Telemetry, function: Any, args: Any) -> ToolRun:
        """An ``execute_tool`` span for one function the SDK invokes for this call."""
        name = str(getattr(function, "__name__", "") or type(function).__name__)
        doc = getattr(function, "__doc__", None)
        template = tel.tool_template(
            name, description=doc.strip() if isinstance(doc, str) else None
        )
        # Under the chat span, wherever the SDK runs the function (a chat session runs it
        # between its requests, when no span is current).
        context = set_value(CHAT_RUN_KEY, None, self.run.context)
        return tel.tool(template, call_id=self.next_call_id(name), params=args, context=context)


def where(instance: Any, config: Any) -> _client.ClientInfo:
    info = _client.client_info(instance)
    override = _client.request_base_url(config)
    if override is not None:  # a per-request base URL: this request's server
        return _client.ClientInfo(None, info.provider == _client.VERTEX_AI, override)
    return info


def open_chat(
    tel: Telemetry, instance: Any, kwargs: dict[str, Any], stream: bool, attach: bool
) -> LLMRun | None:
    """The ``chat`` run of a ``generate_content*`` request, its parameters read."""
    run = None
    with START_GUARD:
        config = kwargs.get("config")
        info = where(instance, config)
        run = tel.llm(
            info.provider,
            _extract.model_name(kwargs.get("model")),
            server_address=info.address,
            server_port=info.port,
            attach=attach,
        )
    if run is not None and run.span.is_recording():
        with REQUEST_GUARD:
            _extract.request(run, kwargs, stream)
    return run


class StreamState:
    """What a stream said, gathered chunk by chunk (across automatic-function-calling turns)."""

    __slots__ = (
        "blocked",
        "call",
        "calls",
        "capture",
        "finish",
        "id",
        "last",
        "model",
        "texts",
        "usage",
    )

    def __init__(self, call: Call) -> None:
        self.call = call
        self.last: Any = None
        self.capture: bool = call.run.capture_content
        self.id: str | None = None
        self.model: str | None = None
        self.blocked: Any = None
        self.finish: dict[int, Any] = {}
        self.usage: dict[str | None, Any] = {}  # per response id (one per turn): the last seen
        self.calls: _extract.Calls = []
        self.texts: dict[int, list[str]] = {}

    def add(self, chunk: Any) -> None:
        if chunk is self.last:  # seen by an automatic-function-calling hook already
            return
        self.last = chunk
        rid = chunk.response_id
        if rid:
            self.id = rid
        model = chunk.model_version
        if model:
            self.model = model
        usage = chunk.usage_metadata
        if usage is not None:
            self.usage[rid] = usage
        candidates = chunk.candidates
        if not candidates:
            feedback = chunk.prompt_feedback
            if feedback is not None and feedback.block_reason is not None:
                self.blocked = feedback.block_reason
            return
        calls = False
        for position, candidate in enumerate(candidates):
            index = candidate.index or position
            if candidate.finish_reason is not None:
                self.finish[index] = candidate.finish_reason
            content = candidate.content
            for part in (content.parts if content is not None else None) or ():
                if part.function_call is not None:
                    calls = True
                elif self.capture and part.text and not part.thought:
                    self.texts.setdefault(index, []).append(part.text)
        if calls:
            self.calls += self.call.calls_of(chunk)

    def apply(self, run: LLMRun) -> None:
        finish = self.finish
        reasons = [r for r in (_extract.reason(finish[i]) for i in sorted(finish)) if r]
        if not finish and self.blocked is not None:
            reasons = [_extract.reason(self.blocked) or ""]
        run.set_response(response_id=self.id, model=self.model, finish_reasons=reasons)
        tokens = _extract.Tokens()
        for usage in self.usage.values():
            tokens.add(usage)
        tokens.apply(run)
        if self.capture:
            indexes = sorted(set(self.texts) | set(finish) | {i for i, _ in self.calls})
            outputs = [
                Message(
                    role="assistant",
                    text="".join(self.texts.get(i, ())) or None,
                    tool_calls=[call for at, call in self.calls if at == i],
                    finish_reason=_extract.reason(finish.get(i)),
                )
                for i in indexes
            ]
            if not indexes and reasons:
                outputs = [Message(role="assistant", finish_reason=reasons[0])]
            run.set_messages(outputs=outputs)


# The call the SDK is working for in this thread / task.
ACTIVE: ContextVar[Call | None] = ContextVar("instrumentors_google_genai_call", default=None)
