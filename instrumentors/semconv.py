"""Every attribute, event and span-name constant this package emits.

GenAI names come from ``opentelemetry.semconv``; the agent extras that users
asked for (and that no convention defines yet) are defined here, once.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes import openai_attributes as OpenAI
from opentelemetry.semconv.attributes import error_attributes, server_attributes

# --- GenAI semantic conventions (re-exported so callers import one module) ---
GEN_AI_OPERATION_NAME: Final = GenAI.GEN_AI_OPERATION_NAME
GEN_AI_PROVIDER_NAME: Final = GenAI.GEN_AI_PROVIDER_NAME
GEN_AI_REQUEST_MODEL: Final = GenAI.GEN_AI_REQUEST_MODEL
GEN_AI_REQUEST_TOP_K: Final = GenAI.GEN_AI_REQUEST_TOP_K
GEN_AI_RESPONSE_ID: Final = GenAI.GEN_AI_RESPONSE_ID
GEN_AI_RESPONSE_MODEL: Final = GenAI.GEN_AI_RESPONSE_MODEL
GEN_AI_RESPONSE_FINISH_REASONS: Final = GenAI.GEN_AI_RESPONSE_FINISH_REASONS
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = GenAI.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
GEN_AI_USAGE_INPUT_TOKENS: Final = GenAI.GEN_AI_USAGE_INPUT_TOKENS
GEN_AI_USAGE_OUTPUT_TOKENS: Final = GenAI.GEN_AI_USAGE_OUTPUT_TOKENS
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = GenAI.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
GEN_AI_TOOL_NAME: Final = GenAI.GEN_AI_TOOL_NAME
GEN_AI_TOOL_TYPE: Final = GenAI.GEN_AI_TOOL_TYPE
GEN_AI_TOOL_CALL_ID: Final = GenAI.GEN_AI_TOOL_CALL_ID
GEN_AI_TOOL_DESCRIPTION: Final = GenAI.GEN_AI_TOOL_DESCRIPTION
GEN_AI_TOOL_CALL_ARGUMENTS: Final = GenAI.GEN_AI_TOOL_CALL_ARGUMENTS
GEN_AI_TOOL_CALL_RESULT: Final = GenAI.GEN_AI_TOOL_CALL_RESULT
GEN_AI_AGENT_NAME: Final = GenAI.GEN_AI_AGENT_NAME
GEN_AI_AGENT_ID: Final = GenAI.GEN_AI_AGENT_ID
GEN_AI_CONVERSATION_ID: Final = GenAI.GEN_AI_CONVERSATION_ID
GEN_AI_DATA_SOURCE_ID: Final = GenAI.GEN_AI_DATA_SOURCE_ID
GEN_AI_AGENT_DESCRIPTION: Final = GenAI.GEN_AI_AGENT_DESCRIPTION
GEN_AI_REQUEST_TEMPERATURE: Final = GenAI.GEN_AI_REQUEST_TEMPERATURE
GEN_AI_REQUEST_TOP_P: Final = GenAI.GEN_AI_REQUEST_TOP_P
GEN_AI_REQUEST_MAX_TOKENS: Final = GenAI.GEN_AI_REQUEST_MAX_TOKENS
GEN_AI_REQUEST_SEED: Final = GenAI.GEN_AI_REQUEST_SEED
GEN_AI_REQUEST_STOP_SEQUENCES: Final = GenAI.GEN_AI_REQUEST_STOP_SEQUENCES
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = GenAI.GEN_AI_REQUEST_FREQUENCY_PENALTY
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = GenAI.GEN_AI_REQUEST_PRESENCE_PENALTY
GEN_AI_REQUEST_CHOICE_COUNT: Final = GenAI.GEN_AI_REQUEST_CHOICE_COUNT
GEN_AI_REQUEST_STREAM: Final = GenAI.GEN_AI_REQUEST_STREAM
GEN_AI_REQUEST_ENCODING_FORMATS: Final = GenAI.GEN_AI_REQUEST_ENCODING_FORMATS
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
GEN_AI_INPUT_MESSAGES: Final = GenAI.GEN_AI_INPUT_MESSAGES
GEN_AI_OUTPUT_MESSAGES: Final = GenAI.GEN_AI_OUTPUT_MESSAGES
GEN_AI_SYSTEM_INSTRUCTIONS: Final = GenAI.GEN_AI_SYSTEM_INSTRUCTIONS
GEN_AI_TOOL_DEFINITIONS: Final = GenAI.GEN_AI_TOOL_DEFINITIONS
GEN_AI_TOKEN_TYPE: Final = GenAI.GEN_AI_TOKEN_TYPE
GEN_AI_OUTPUT_TYPE: Final = GenAI.GEN_AI_OUTPUT_TYPE
OUTPUT_TYPE_TEXT: Final = GenAI.GenAiOutputTypeValues.TEXT.value
OUTPUT_TYPE_JSON: Final = GenAI.GenAiOutputTypeValues.JSON.value
# OpenAI's own conventions (the OpenAI page of the GenAI semantic conventions).
OPENAI_REQUEST_SERVICE_TIER: Final = OpenAI.OPENAI_REQUEST_SERVICE_TIER
OPENAI_RESPONSE_SERVICE_TIER: Final = OpenAI.OPENAI_RESPONSE_SERVICE_TIER
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = OpenAI.OPENAI_RESPONSE_SYSTEM_FINGERPRINT
TOKEN_TYPE_INPUT: Final = GenAI.GenAiTokenTypeValues.INPUT.value
TOKEN_TYPE_OUTPUT: Final = GenAI.GenAiTokenTypeValues.OUTPUT.value
ERROR_TYPE: Final = error_attributes.ERROR_TYPE
SERVER_ADDRESS: Final = server_attributes.SERVER_ADDRESS
SERVER_PORT: Final = server_attributes.SERVER_PORT

OP_CHAT: Final = GenAI.GenAiOperationNameValues.CHAT.value
OP_TEXT_COMPLETION: Final = GenAI.GenAiOperationNameValues.TEXT_COMPLETION.value
OP_EMBEDDINGS: Final = GenAI.GenAiOperationNameValues.EMBEDDINGS.value
OP_EXECUTE_TOOL: Final = GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value
OP_INVOKE_AGENT: Final = GenAI.GenAiOperationNameValues.INVOKE_AGENT.value
OP_RETRIEVAL: Final = "retrieval"
# Not a GenAI operation yet; kept distinct so GenAI metrics never count steps.
OP_AGENT_STEP: Final = "agent_step"

TOOL_TYPE_FUNCTION: Final = "function"
TOOL_TYPE_EXTENSION: Final = "extension"
TOOL_TYPE_DATASTORE: Final = "datastore"

# --- our agent attributes ---
TOOL_NAME: Final = "tool.name"
AGENT_SESSION_ID: Final = "agent.session_id"
AGENT_STEP_NAME: Final = "agent.step.name"
REQUEST_PARAMETERS_HASH: Final = "request.parameters.hash"
REQUEST_PARAMETERS: Final = "request.parameters"
REQUEST_IDEMPOTENCY_KEY: Final = "request.idempotency_key"
RETRIEVAL_DOCUMENTS_COUNT: Final = "retrieval.documents.count"
# Tool calls a model response requested (ids and names only; arguments are content).
GEN_AI_RESPONSE_TOOL_CALL_IDS: Final = "gen_ai.response.tool_call.ids"
GEN_AI_RESPONSE_TOOL_CALL_NAMES: Final = "gen_ai.response.tool_call.names"

# HTTP roll-up on the enclosing execute_tool span (stable and pre-1.21 names).
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_METHOD_OLD: Final = "http.method"
URL_FULL: Final = "url.full"
HTTP_URL_OLD: Final = "http.url"
HTTP_STATUS_CODE_OLD: Final = "http.status_code"

# Cost (the open GenAI semantic-conventions proposal for per-operation cost; one place
# so a rename is one line), and our roll-ups on enclosing spans, written at their end.
GEN_AI_USAGE_COST_AMOUNT: Final = "gen_ai.usage.cost.amount"
GEN_AI_USAGE_COST_CURRENCY: Final = "gen_ai.usage.cost.currency"
GEN_AI_USAGE_COST_SOURCE: Final = "gen_ai.usage.cost.source"
COST_SOURCE_PROVIDER: Final = "provider"  # the response carried its cost
COST_SOURCE_LOCAL: Final = "local"  # we priced it (genai-prices or the user's prices)
AGENT_COST_TOTAL: Final = "agent.cost.total"
AGENT_COST_MODEL_CALLS: Final = "agent.cost.model_calls"
GEN_AI_CLIENT_OPERATION_COST: Final = "gen_ai.client.operation.cost"

# Events (log records through the Logs API) that carry content in EVENT_ONLY /
# SPAN_AND_EVENT modes: the conventions' inference event, and our tool-call one.
EVENT_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"
EVENT_TOOL_CALL_DETAILS: Final = "gen_ai.execute_tool.details"

# Baggage key carrying the session across processes.
BAGGAGE_SESSION_KEY: Final = AGENT_SESSION_ID

# --- span events and their attributes ---
EVENT_RETRY_ATTEMPTED: Final = "retry.attempted"
EVENT_RATE_LIMIT_INVOKED: Final = "rate.limit.invoked"
EVENT_CACHE_HIT: Final = "cache.hit"
EVENT_CACHE_MISS: Final = "cache.miss"
EVENT_CIRCUIT_OPENED: Final = "circuit.breaker.opened"
EVENT_CIRCUIT_HALF_OPENED: Final = "circuit.breaker.half_opened"
EVENT_CIRCUIT_CLOSED: Final = "circuit.breaker.closed"

RETRY_ATTEMPT: Final = "retry.attempt"
RETRY_DELAY_S: Final = "retry.delay_s"
RETRY_AFTER_S: Final = "retry.after_s"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
CACHE_NAME: Final = "cache.name"
CACHE_KEY_HASH: Final = "cache.key.hash"
CIRCUIT_NAME: Final = "circuit.name"
CIRCUIT_FAILURE_COUNT: Final = "circuit.failure_count"

# Prefixes of the hash values; part of the contract (dashboards parse them).
HASH_PREFIX_SHA256: Final = "sha256:"
HASH_PREFIX_HMAC: Final = "hmac-sha256:"
