"""The fake OpenAI server as the Agents SDK needs it (a unique module name on purpose).

``tests/fakes/openai_server.py`` speaks the Responses API (JSON and SSE, function calls);
the one thing the SDK reads that it leaves out is the ``instructions`` the real API
echoes in each ``Response``: the SDK's ``response`` spans carry the input items but not
the instructions, so the system instructions of a captured chat come from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakes.openai_server import FakeOpenAIServer, Reply


class AgentsServer(FakeOpenAIServer):
    """``FakeOpenAIServer`` whose Responses echo the request's ``instructions``."""

    def response_json(self, reply: Reply, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ``response`` object, with ``instructions`` as the API echoes them."""
        response = super().response_json(reply, body)
        response.setdefault("instructions", body.get("instructions"))
        return response
