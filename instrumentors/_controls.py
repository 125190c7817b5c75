"""Control characters out of untrusted text: session ids and incoming baggage values.

A newline or a bidirectional override in a value that a caller sent us would
forge lines in logs and in the tree view, or reorder what a reader sees.
"""

from __future__ import annotations

import re
from typing import Final

# C0 and C1 controls (newlines, escapes, NUL, DEL), line and paragraph separators,
# and the bidirectional marks, embeddings, overrides and isolates.
_CONTROLS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]+")


def strip_controls(text: str) -> str:
    """``text`` without control characters (see ``_CONTROLS``)."""
    if text.isprintable():  # the usual case, in C: none of them present
        return text
    return _CONTROLS.sub("", text)
