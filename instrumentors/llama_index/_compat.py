"""The only place this package reads LlamaIndex's private names; each read is guarded.

When a name is gone, the detail that needs it is skipped with one DEBUG log and
the user's call is untouched. ``tests/llama_index/test_compat.py`` names every
one, so the compat matrix and the newest-release run fail when a release drops one.
"""

from __future__ import annotations

import logging
from typing import Any, Final

_logger = logging.getLogger(__name__)

# Several core retrievers keep their top k only here, with no public property:
# VectorIndexAutoRetriever, SummaryIndexEmbeddingRetriever,
# DocumentSummaryIndexEmbeddingRetriever and the property graph VectorContextRetriever.
SIMILARITY_TOP_K: Final = "_similarity_top_k"

_reported: set[str] = set()


def _gone(name: str, owner: str) -> None:
    if name not in _reported:
        _reported.add(name)
        _logger.debug("LlamaIndex: %s has no %s; that detail is not recorded", owner, name)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def private_top_k(retriever: Any) -> int | None:
    """The ``_similarity_top_k`` of a retriever without a public ``similarity_top_k``."""
    value = getattr(retriever, SIMILARITY_TOP_K, None)
    if value is None:
        _gone(SIMILARITY_TOP_K, type(retriever).__name__)
    return _count(value)
