"""What an example needs, checked before it starts: a missing package prints the install command.

A new user who runs an example without its dependencies gets the one command
that makes it run, not a traceback. Run the command from the repository root.
"""

from __future__ import annotations

import importlib
import sys


def require(extra: str, *modules: str) -> None:
    """Exit with the install command when one of ``modules`` cannot be imported."""
    missing = []
    for module in ("instrumentors", *modules):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        target = f'".[{extra}]"' if extra else "."
        command = f"python -m pip install -e {target}"
        print(
            f"This example needs {', '.join(missing)}, which is not installed. From the "
            f"repository root, run:\n\n    {command}\n",
            file=sys.stderr,
        )
        sys.exit(1)
