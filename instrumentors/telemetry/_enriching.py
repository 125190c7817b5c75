"""A second layer's view of a model request another layer's chat run owns.

When the OpenAI SDK runs under LangChain (``ChatOpenAI``), both layers see one
request; the outer one owns the ``chat`` span and the inner one gets an
``EnrichingLLMRun`` whose setters publish into the owner. One request, one span.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instrumentors.telemetry._chat import LLMRun
from instrumentors.telemetry._content import ContentPolicy, Message


class EnrichingLLMRun(LLMRun):
    """A second layer's view of a request whose ``chat`` span another layer owns.

    Its setters write into the owner's publication (the owner's own values win);
    it ends nothing and records no error: the exception reaches the owning layer,
    which records it once.
    """

    __slots__ = ("_owner",)

    def __init__(self, owner: LLMRun, policy: ContentPolicy) -> None:
        # No span, no attach: everything points at the owner's.
        published = owner.publication()
        self._owner = owner
        self.span = owner.span
        self.context = owner.context
        self.pending = {}
        self.shape = owner.shape
        self.values = published.values
        self._policy = policy
        self._instruments = None
        self._captured = None
        self._published = None
        self.cost_parent = 0
        self._start_s = owner._start_s
        self._finished = False
        self._token = None

    @property
    def enriching(self) -> bool:
        return True

    @property
    def measured(self) -> bool:
        return self._owner.measured  # what this layer learns goes into the owner's metrics

    def set_messages(
        self,
        inputs: Sequence[Message] | None = None,
        outputs: Sequence[Message] | None = None,
        system: Sequence[str] | None = None,
        tool_definitions: Sequence[Any] | None = None,
    ) -> None:
        super().set_messages(inputs, outputs, system, tool_definitions)
        if self._captured is not None:
            self._owner.publication().captured = self._captured

    def suspend(self) -> None:
        return None

    def fail(self, exc: BaseException, error_type: str | None = None) -> None:
        self._finished = True  # the owning layer records the exception, once

    def _end(self, error_type: str | None, message: str | None) -> None:
        self._finished = True
