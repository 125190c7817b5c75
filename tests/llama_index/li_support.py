"""Offline LlamaIndex doubles for the tests: a scripted function-calling LLM (0.12 and 0.14).

``ScriptedLLM`` pops one ``ChatMessage`` per call from ``script``. Hooks let a
test run code inside the model call (``on_call``: e.g. a stand-in for the
OpenAI layer opening its own chat run), make it fail, or make its stream fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatResponseAsyncGen, ChatResponseGen
from llama_index.core.llms import ChatMessage, ChatResponse, CompletionResponse, LLMMetadata
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from pydantic import PrivateAttr

from tests._spans import by_name, one, parent_of  # noqa: F401 - re-exported to the tests

USAGE = {"prompt_tokens": 3, "completion_tokens": 2}


class ScriptedLLM(FunctionCallingLLM):
    """A function-calling LLM that answers from a script (chat, complete, streams)."""

    script: list[ChatMessage] = []
    model: str = "scripted-model"
    chunks: int = 2  # stream pieces per answer
    _i: int = PrivateAttr(default=0)
    _on_call: Callable[[], Any] | None = PrivateAttr(default=None)
    _error: BaseException | None = PrivateAttr(default=None)
    _stream_error: BaseException | None = PrivateAttr(default=None)

    def __init__(
        self,
        script: Sequence[ChatMessage] = (),
        *,
        on_call: Callable[[], Any] | None = None,
        error: BaseException | None = None,
        stream_error: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(script=list(script), **kwargs)
        self._on_call = on_call
        self._error = error
        self._stream_error = stream_error

    @classmethod
    def class_name(cls) -> str:
        return "ScriptedLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            is_function_calling_model=True, is_chat_model=True, model_name=self.model
        )

    def _answer(self) -> ChatResponse:
        if self._on_call is not None:
            self._on_call()
        if self._error is not None:
            raise self._error
        message = self.script[min(self._i, len(self.script) - 1)] if self.script else text("ok")
        self._i += 1
        raw = {
            "id": f"resp-{self._i}",
            "model": self.model,
            "usage": USAGE,
            "choices": [{"finish_reason": "tool_calls" if _calls(message) else "stop"}],
        }
        return ChatResponse(message=message, delta=message.content or "", raw=raw)

    def _pieces(self, answer: ChatResponse) -> Iterator[ChatResponse]:
        content = answer.message.content or ""
        size = max(1, len(content) // max(1, self.chunks))
        pieces = [content[i : i + size] for i in range(0, len(content), size)] or [""]
        for n, piece in enumerate(pieces):
            if self._stream_error is not None and n == 1:
                raise self._stream_error
            last = n == len(pieces) - 1
            yield ChatResponse(
                message=answer.message, delta=piece, raw=answer.raw if last else None
            )

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._answer()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._answer()

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def gen() -> Iterator[ChatResponse]:
            # Like an SDK stream: the request happens at the first read.
            yield from self._pieces(self._answer())

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        async def gen() -> AsyncIterator[ChatResponse]:
            for piece in self._pieces(self._answer()):
                yield piece

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        answer = self._answer()
        return CompletionResponse(text=answer.message.content or "", raw=answer.raw)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        answer = self._answer()
        return CompletionResponse(text=answer.message.content or "", raw=answer.raw)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        def gen() -> Iterator[CompletionResponse]:
            for piece in self._pieces(self._answer()):
                yield CompletionResponse(text=piece.delta or "", delta=piece.delta, raw=piece.raw)

        return gen()

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        async def gen() -> AsyncIterator[CompletionResponse]:
            for piece in self._pieces(self._answer()):
                yield CompletionResponse(text=piece.delta or "", delta=piece.delta, raw=piece.raw)

        return gen()

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[Any],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if user_msg:
            messages.append(text(user_msg, "user") if isinstance(user_msg, str) else user_msg)
        return {"messages": messages}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = False, **kwargs: Any
    ) -> list[ToolSelection]:
        return _calls(response.message)


def _calls(message: ChatMessage) -> list[ToolSelection]:
    return list(message.additional_kwargs.get("tool_calls", []))


def text(content: str, role: str = "assistant") -> ChatMessage:
    """A plain message."""
    return ChatMessage(role=role, content=content)


def tool_call(call_id: str, name: str, **kwargs: Any) -> ChatMessage:
    """An assistant turn that asks for one tool call."""
    selection = ToolSelection(tool_id=call_id, tool_name=name, tool_kwargs=kwargs)
    return ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [selection]})


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def boom(x: int) -> int:
    """Always fails."""
    raise ValueError(f"boom {x}")
