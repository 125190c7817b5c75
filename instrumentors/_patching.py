"""What instrumentors ask before patching: does this version of a library have the target?"""

from __future__ import annotations

import importlib
from typing import Any


def attribute_exists(module: str, path: str) -> bool:
    """Whether ``module`` imports and has the dotted attribute ``path`` (``Class.method``)."""
    try:
        target: Any = importlib.import_module(module)
    except ImportError:
        return False
    for name in path.split("."):
        target = getattr(target, name, None)
        if target is None:
            return False
    return True
