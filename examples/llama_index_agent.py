"""A LlamaIndex FunctionAgent with a retriever tool, traced end to end (offline by default).

The agent's one tool searches a small VectorStoreIndex (built in memory with
``MockEmbedding``, so no embedding API is needed): the trace shows the agent run,
each model call, the ``execute_tool`` span with its call id and a link to the
``chat`` span that asked for it, and the ``retrieval`` under it. Run it and read
the trace tree and the SLI table printed on stderr:

    python examples/llama_index_agent.py [session-id]

Without ``OPENAI_API_KEY`` a scripted local model (``_local_model.py``) answers;
with it, the real API does (``OPENAI_BASE_URL``, ``EXAMPLE_MODEL`` are honoured).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require("examples-llama-index", "llama_index.core", "llama_index.llms.openai")

from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai import OpenAI

import instrumentors

sys.path.insert(0, str(Path(__file__).parent))
from _local_model import Turn, local_model

handle = instrumentors.setup(service_name="llama-index-agent")

PLAN: list[Turn] = [[("search_guide", {"query": "Where to eat in Paris?"})]]
GUIDE = [
    "Chez Nous is a bistro in the Marais, open Tuesday to Saturday.",
    "The Louvre is closed on Tuesdays.",
    "Paris in spring: mild days, a chance of showers.",
]


def build_agent(llm: OpenAI) -> FunctionAgent:
    """An agent whose one tool retrieves from a small in-memory travel guide."""
    Settings.embed_model = MockEmbedding(embed_dim=8)  # offline: no embedding API
    index = VectorStoreIndex.from_documents([Document(text=text) for text in GUIDE])
    retriever = index.as_retriever(similarity_top_k=2)

    def search_guide(query: str) -> str:
        """Search the Paris travel guide."""
        return "\n".join(node.get_content() for node in retriever.retrieve(query))

    return FunctionAgent(
        name="guide",
        description="Answers travel questions from the guide.",
        tools=[FunctionTool.from_defaults(search_guide)],
        llm=llm,
        system_prompt="Answer from the travel guide; search it first.",
    )


async def main(session_id: str) -> None:
    # One trace per run: indexing the guide (its embeddings) and the agent's turns.
    with (
        local_model(PLAN) as (base_url, api_key, model),
        instrumentors.session(session_id),
        instrumentors.agent_step("travel-agent run"),
    ):
        agent = build_agent(OpenAI(model=model, api_base=base_url, api_key=api_key))
        print(await agent.run(user_msg="Where should I eat in Paris?"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "llama-session-1"))
    handle.shutdown()
