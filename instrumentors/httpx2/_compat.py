"""httpx2's internals our layer relies on: the only place for them, each one guarded.

- ``httpx2._client.BaseClient._redirect_headers(request, url, method)`` (private): the
  headers httpx2 copies from one hop to the next when it follows a redirect inside
  ``send``. Wrapping it is how ``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS`` holds hop by hop
  on every transport: httpx2 has no public hook that runs for each hop without
  changing what the client shows (``event_hooks``), and the public transports miss
  custom ones. Gone: the patch table skips the row with a DEBUG log; the first hop
  still honours the allowlist, but a redirect carries its trace headers on.

Everything else is public: ``Client.send`` / ``AsyncClient.send``, ``Request``,
``Response``. ``tests/httpx2/test_httpx2_compat.py`` names each entry above and fails
when one is missing from the installed httpx2.
"""

from __future__ import annotations

from typing import Final

# (module, dotted attribute) of the method that builds a redirect's headers.
REDIRECT_HEADERS: Final = ("httpx2._client", "BaseClient._redirect_headers")
