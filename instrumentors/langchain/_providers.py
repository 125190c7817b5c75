"""Model identity: ``gen_ai.provider.name`` and the request model of a LangChain model run,
from LangChain's ``ls_*`` metadata, the invocation parameters or the integration class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiProviderNameValues as _Provider,
)

from instrumentors.langchain._extract import class_name, first_str

# ``ls_provider`` (LangChain's own provider key) -> gen_ai.provider.name.
_PROVIDERS: Final = {
    "openai": _Provider.OPENAI.value,
    "azure": _Provider.AZURE_AI_OPENAI.value,
    "azure_openai": _Provider.AZURE_AI_OPENAI.value,
    "azure_ai": _Provider.AZURE_AI_INFERENCE.value,
    "anthropic": _Provider.ANTHROPIC.value,
    "google_vertexai": _Provider.GCP_VERTEX_AI.value,
    "google_anthropic_vertex": _Provider.GCP_VERTEX_AI.value,
    "google_genai": _Provider.GCP_GEN_AI.value,
    "amazon_bedrock": _Provider.AWS_BEDROCK.value,
    "bedrock": _Provider.AWS_BEDROCK.value,
    "mistral": _Provider.MISTRAL_AI.value,
    "mistralai": _Provider.MISTRAL_AI.value,
    "groq": _Provider.GROQ.value,
    "cohere": _Provider.COHERE.value,
    "deepseek": _Provider.DEEPSEEK.value,
    "xai": _Provider.X_AI.value,
    "perplexity": _Provider.PERPLEXITY.value,
    "ibm": _Provider.IBM_WATSONX_AI.value,
    "watsonx": _Provider.IBM_WATSONX_AI.value,
}
# Integration class -> provider, for models that do not report ``ls_provider``.
_CLASS_PROVIDERS: Final = {
    "ChatOpenAI": _Provider.OPENAI.value,
    "OpenAI": _Provider.OPENAI.value,
    "AzureChatOpenAI": _Provider.AZURE_AI_OPENAI.value,
    "AzureOpenAI": _Provider.AZURE_AI_OPENAI.value,
    "ChatAnthropic": _Provider.ANTHROPIC.value,
    "ChatVertexAI": _Provider.GCP_VERTEX_AI.value,
    "ChatGoogleGenerativeAI": _Provider.GCP_GEN_AI.value,
    "ChatBedrock": _Provider.AWS_BEDROCK.value,
    "ChatBedrockConverse": _Provider.AWS_BEDROCK.value,
    "ChatMistralAI": _Provider.MISTRAL_AI.value,
    "ChatGroq": _Provider.GROQ.value,
    "ChatCohere": _Provider.COHERE.value,
    "ChatDeepSeek": _Provider.DEEPSEEK.value,
    "ChatXAI": _Provider.X_AI.value,
    "ChatPerplexity": _Provider.PERPLEXITY.value,
    "ChatWatsonx": _Provider.IBM_WATSONX_AI.value,
}


def model_identity(
    serialized: Any, metadata: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> tuple[str, str | None]:
    """(``gen_ai.provider.name``, request model) from ``ls_*`` metadata, params or the class."""
    md = metadata or {}
    ls_provider = md.get("ls_provider")
    ls_provider = ls_provider.lower() if isinstance(ls_provider, str) and ls_provider else None
    cls = class_name(serialized)
    provider = (
        (ls_provider and _PROVIDERS.get(ls_provider))
        or (cls and _CLASS_PROVIDERS.get(cls))
        or ls_provider
        or (cls or "langchain").lower()
    )
    model = first_str(md, ("ls_model_name",)) or first_str(
        params, ("model", "model_name", "model_id", "deployment_name")
    )
    if model is None and isinstance(serialized, Mapping):
        kwargs = serialized.get("kwargs")
        if isinstance(kwargs, Mapping):
            model = first_str(kwargs, ("model", "model_name", "model_id"))
    return provider, model
