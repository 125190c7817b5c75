"""The Phoenix backend for end-to-end tests: its virtualenv, its process, its sockets.

Phoenix runs from its own virtualenv (never the test environment: it pins its own
OpenTelemetry and gRPC versions), started through ``phoenix_launcher.py`` so that
every socket it opens is on loopback, in a fresh working directory, on free ports.
Agents run as subprocesses of the test environment, exporting to it over OTLP.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
LAUNCHER = Path(__file__).resolve().parent / "phoenix_launcher.py"

# Verified with this suite; bump it deliberately (the REST shapes read in
# phoenix_client.py and the gRPC call site patched by the launcher can move).
PHOENIX_VERSION = "20.26.1"
VENV_ENV = "AGENT_INSTRUMENTORS_PHOENIX_VENV"
DEFAULT_VENV = ROOT / ".e2e" / "phoenix-venv"
LOOPBACK = "127.0.0.1"
_NO_PROXY = "127.0.0.1,localhost,::1"


# --- the virtualenv ----------------------------------------------------------------


def find_uv() -> list[str] | None:
    """The uv command: $UV, uv on PATH, uv beside this Python, or ``python -m uv``."""
    explicit = os.environ.get("UV")
    if explicit and Path(explicit).is_file():
        return [explicit]
    on_path = shutil.which("uv")
    if on_path:
        return [on_path]
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return [str(beside)]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    return None


def ensure_phoenix_venv(venv: Path | None = None, version: str = PHOENIX_VERSION) -> Path:
    """Create (once) a virtualenv holding ``arize-phoenix==version``; return its Python."""
    venv = venv or Path(os.environ.get(VENV_ENV) or DEFAULT_VENV)
    python = venv / "bin" / "python"
    stamp = venv / ".phoenix-version"
    if python.is_file() and stamp.is_file() and stamp.read_text().strip() == version:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    requirement = f"arize-phoenix=={version}"
    # Never let uv fetch an interpreter: only the package registry is reachable.
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    uv = find_uv()
    if uv is not None:
        commands = [
            [*uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            [*uv, "pip", "install", "--quiet", "--python", str(python), requirement],
        ]
    else:
        commands = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", requirement],
        ]
    for command in commands:
        subprocess.run(command, check=True, env=env, timeout=900)
    stamp.write_text(version + "\n")
    return python


# --- sockets -----------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    """A socket that accepts traffic: a listening TCP socket or an unconnected UDP one."""

    proto: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @property
    def loopback(self) -> bool:
        """127.0.0.0/8, ::1, or an IPv4-mapped loopback address (``::ffff:127.0.0.1``)."""
        mapped = getattr(self.address, "ipv4_mapped", None)
        return self.address.is_loopback or (mapped is not None and mapped.is_loopback)

    def __str__(self) -> str:
        mapped = getattr(self.address, "ipv4_mapped", None)
        host = f"[::ffff:{mapped}]" if mapped else f"[{self.address}]"
        return f"{self.proto} {host if self.address.version == 6 else self.address}:{self.port}"


def decode_proc_address(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """``0100007F:1F90`` (as in /proc/net/tcp) -> (127.0.0.1, 8080)."""
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    # The kernel prints each 32-bit word in host byte order.
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw), int(port, 16)


_LISTEN = {"tcp": "0A", "tcp6": "0A", "udp": "07", "udp6": "07"}


def listeners(pids: set[int]) -> list[Listener]:
    """Every listening socket owned by ``pids`` (Linux: read from /proc)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    found: list[Listener] = []
    for pid in sorted(pids)[:1]:  # one network namespace: any member's view will do
        for proto, state in _LISTEN.items():
            try:
                lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[3] == state and fields[9] in inodes:
                    address, port = decode_proc_address(fields[1])
                    found.append(Listener(proto, address, port))
    return found


def session_pids(leader: int) -> set[int]:
    """The pids of the session ``leader`` started (it runs with start_new_session)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after "(comm)": state ppid pgrp session ...
        after = stat.rsplit(")", 1)[1].split()
        if int(after[3]) == leader:
            pids.add(int(entry.name))
    return pids


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on loopback (held together while picked)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# --- the server --------------------------------------------------------------------


@dataclass
class PhoenixServer:
    """A running Phoenix server on loopback; ``stop()`` is idempotent."""

    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    workdir: Path
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """The UI, REST, GraphQL and OTLP/HTTP (``/v1/traces``) root."""
        return f"http://{LOOPBACK}:{self.http_port}"

    def otlp_endpoint(self, protocol: str) -> str:
        """``OTEL_EXPORTER_OTLP_ENDPOINT`` for ``http`` or ``grpc``."""
        port = self.grpc_port if protocol == "grpc" else self.http_port
        return f"http://{LOOPBACK}:{port}"

    def log_tail(self, lines: int = 80) -> str:
        """The end of the server's output, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def pids(self) -> set[int]:
        """The server's process and anything it started."""
        return session_pids(self.process.pid) | {self.process.pid}

    def listeners(self) -> list[Listener]:
        """Every socket the server listens on."""
        return listeners(self.pids())

    def assert_loopback_only(self) -> list[Listener]:
        """Fail unless the server listens on both its ports and on loopback only."""
        found = self.listeners()
        outside = [str(item) for item in found if not item.loopback]
        assert not outside, f"Phoenix listens beyond loopback: {outside}"
        ports = {item.port for item in found if item.proto.startswith("tcp")}
        missing = {self.http_port, self.grpc_port} - ports
        assert not missing, f"Phoenix does not listen on {missing}; it listens on {found}"
        return found

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until ``/readyz`` answers 200 and the OTLP/gRPC port accepts connections."""
        deadline = time.monotonic() + timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Phoenix exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if _http_ok(opener, f"{self.base_url}/readyz") and _tcp_open(self.grpc_port):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Phoenix not ready after {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.25)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the server's process group, SIGKILL what is left after ``grace``."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace)
        # Children that outlived the leader still belong to its session.
        if session_pids(self.process.pid):
            _signal_group(self.process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _http_ok(opener: urllib.request.OpenerDirector, url: str) -> bool:
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def start_phoenix(python: Path, workdir: Path) -> PhoenixServer:
    """Start Phoenix (not yet ready) from ``python``'s environment, state in ``workdir``."""
    http_port, grpc_port = free_ports(2)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PHOENIX_", "OTEL_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"))
    }
    env.update(
        E2E_BIND_HOST=LOOPBACK,
        PHOENIX_PORT=str(http_port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_WORKING_DIR=str(workdir),
        HOME=str(workdir),
        # Anything that still tried to reach the internet would hit a closed port
        # on loopback instead of leaving the machine.
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        ALL_PROXY="http://127.0.0.1:9",
        NO_PROXY=_NO_PROXY,
        no_proxy=_NO_PROXY,
    )
    log_path = workdir / "phoenix.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(python), str(LAUNCHER)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: one signal stops all of it
    )
    return PhoenixServer(process, http_port, grpc_port, workdir, log_path, log)


# --- agents ------------------------------------------------------------------------


def run_agent(
    server: PhoenixServer,
    script: Path,
    *,
    protocol: str,
    project: str,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run an agent script as a user would, exporting over OTLP ``protocol`` into ``project``.

    Phoenix files spans under the resource attribute ``openinference.project.name``
    (else project ``default``); the service name is the project name too.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    clean.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=server.otlp_endpoint(protocol),
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc" if protocol == "grpc" else "http/protobuf",
        OTEL_SERVICE_NAME=project,
        OTEL_RESOURCE_ATTRIBUTES=f"openinference.project.name={project}",
        # Phoenix receives traces only; a metrics exporter would log export failures.
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        NO_PROXY=_NO_PROXY,
        no_proxy=_NO_PROXY,
    )
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def example_spans(
    server: PhoenixServer,
    client: Any,
    report: Callable[[str], None],
    script: str,
    *,
    project: str,
    session: str,
    spans: int,
    keys: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Run ``examples/<script>`` offline (the API keys in ``keys`` blanked, so its scripted
    local model answers) exporting over OTLP/HTTP, and read back its ``spans`` spans."""
    started = time.monotonic()
    result = run_agent(
        server,
        EXAMPLES / script,
        protocol="http",
        project=project,
        args=(session,),
        env=dict.fromkeys(keys, ""),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    found: list[dict[str, Any]] = client.wait_for_spans(project, spans)
    report(
        f"{script} over http: ran and read back {len(found)} spans "
        f"in {time.monotonic() - started:.1f}s"
    )
    return found
