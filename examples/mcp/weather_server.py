"""An MCP tool server (a separate process) traced with one line, continuing the agent's trace.

``instrumentors.setup()`` instruments the MCP SDK: each ``tools/call`` runs
inside the calling agent's trace, with its session (``agent.session_id`` comes
through baggage). Spans go to ``OTEL_EXPORTER_OTLP_ENDPOINT`` like any service's.

Started by ``agent.py`` (stdio by default, or ``http PORT`` for streamable HTTP);
works with mcp 1.x (FastMCP) and 2.x (MCPServer).
"""

from __future__ import annotations

import sys
import time

import instrumentors

handle = instrumentors.setup(service_name="weather-mcp-server", sli=False)

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as FastMCP
    from mcp.server.mcpserver.exceptions import ToolError

    V2 = True
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP  # type: ignore[no-redef]
    from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef]

    V2 = False

transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
if V2:
    app = FastMCP("weather", log_level="WARNING")
else:
    app = FastMCP("weather", host="127.0.0.1", port=port, log_level="WARNING")

_CACHE: dict[str, str] = {}


@instrumentors.tool
def read_station(city: str) -> str:
    """The server's own work, traced as a nested tool (it carries the agent's session)."""
    time.sleep(0.005)
    return {"paris": "21°C, sunny", "oslo": "4°C, snow"}.get(city.lower(), "unknown")


@app.tool()
def get_weather(city: str) -> str:
    """Current weather for a city."""
    hit = city in _CACHE
    instrumentors.record_cache(hit=hit, name="stations", key=city)
    if not hit:
        _CACHE[city] = read_station(city)
    return f"{city}: {_CACHE[city]}"


@app.tool()
def get_forecast(city: str, days: int = 2) -> list[str]:
    """A forecast (refuses more than 5 days: a tool error the agent sees)."""
    if days > 5:
        raise ToolError("at most 5 days")
    return [f"{city} day {d + 1}: mild" for d in range(days)]


if transport == "stdio":
    app.run("stdio")
elif V2:
    app.run("streamable-http", host="127.0.0.1", port=port)
else:
    app.run("streamable-http")
handle.shutdown()
