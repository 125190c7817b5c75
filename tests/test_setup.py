"""``setup()`` end to end in subprocesses (it sets process globals): exporters, handle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes.otlp_receiver import GRPCReceiver, HTTPReceiver

ROOT = Path(__file__).resolve().parent.parent

AGENT = textwrap.dedent(
    """
    import json, sys, instrumentors
    handle = instrumentors.setup(service_name="svc-from-code", **json.loads(sys.argv[1]))

    @instrumentors.tool
    def get_weather(city: str) -> str:
        return city

    @instrumentors.tool
    def broken() -> None:
        raise ValueError("x")

    with instrumentors.session("sess-1"), instrumentors.agent_step("run"):
        get_weather("Paris")
        try:
            broken()
        except ValueError:
            pass
        instrumentors.record_retry(attempt=1, delay_s=0.1, error_type="ValueError")
    handle.shutdown()
    print(json.dumps({"instrumented": handle.instrumented, "exporters": handle.exporters}))
    """
)


def run_agent(
    env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_INSTRUMENTORS_"))
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", AGENT, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )


def test_default_is_the_tree_view_on_stderr_with_sli_table() -> None:
    result = run_agent()
    err = result.stderr
    assert "trace " in err and "svc-from-code" in err
    assert "└─ run" in err
    assert "execute_tool get_weather" in err
    assert "execute_tool broken" in err and "ERROR ValueError" in err
    assert "retry.attempted" in err
    assert json.loads(result.stdout)["exporters"] == ["agent_tree"]


def test_otlp_http_from_environment() -> None:
    with HTTPReceiver() as receiver:
        result = run_agent(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_SERVICE_NAME": "svc-from-env",
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
            }
        )
    assert json.loads(result.stdout)["exporters"] == ["otlp"]
    names = sorted(s["name"] for s in receiver.spans)
    assert names == ["execute_tool broken", "execute_tool get_weather", "run"]
    assert len({s["trace_id"] for s in receiver.spans}) == 1
    for span in receiver.spans:
        assert span["resource"]["service.name"] == "svc-from-env"
        assert span["resource"]["deployment.environment"] == "test"
        assert span["attributes"]["agent.session_id"] == "sess-1"
    (run,) = [s for s in receiver.spans if s["name"] == "run"]
    assert "retry.attempted" in run["events"]
    assert "trace " not in result.stderr  # no tree when a backend is configured


def test_otlp_grpc_from_argument() -> None:
    with GRPCReceiver() as receiver:
        run_agent(endpoint=receiver.endpoint, protocol="grpc")
    names = sorted(s["name"] for s in receiver.spans)
    assert names == ["execute_tool broken", "execute_tool get_weather", "run"]
    assert {s["resource"]["service.name"] for s in receiver.spans} == {"svc-from-code"}


def test_otlp_http_endpoint_argument_gets_the_traces_path() -> None:
    with HTTPReceiver() as receiver:
        run_agent(endpoint=receiver.endpoint)
    assert len(receiver.spans) == 3


def test_named_exporter_from_environment() -> None:
    result = run_agent({"OTEL_TRACES_EXPORTER": "console"})
    assert json.loads(result.stdout.strip().splitlines()[-1])["exporters"] == ["console"]
    assert '"name": "execute_tool get_weather"' in result.stdout


def test_exporter_down_does_not_break_the_agent() -> None:
    result = run_agent(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
            "OTEL_BSP_EXPORT_TIMEOUT": "1000",
        }
    )
    assert json.loads(result.stdout)["exporters"] == ["otlp"]


def test_agent_tree_entry_point_via_opentelemetry_instrument(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.distro", reason="opentelemetry-distro not installed")
    script = tmp_path / "agent.py"
    script.write_text(
        "import instrumentors\n"
        "@instrumentors.tool\n"
        "def ping(x: int) -> int:\n"
        "    return x\n"
        "ping(1)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        {
            "OTEL_TRACES_EXPORTER": "agent_tree",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("opentelemetry-instrument")),
            sys.executable,
            str(script),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert "execute_tool ping" in result.stderr


def test_setup_twice_returns_the_same_handle() -> None:
    code = textwrap.dedent(
        """
        import instrumentors
        a = instrumentors.setup(service_name="x", instrument=False)
        b = instrumentors.setup(service_name="y", instrument=False)
        assert a is b
        a.shutdown(); a.shutdown()
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "ok"


def test_setup_adopts_an_already_configured_provider() -> None:
    code = textwrap.dedent(
        """
        import io
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import instrumentors

        mine = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(mine))
        trace.set_tracer_provider(provider)
        out = io.StringIO()
        handle = instrumentors.setup(service_name="x", instrument=False, out=out)
        assert handle.tracer_provider is provider and handle.exporters == []
        other = trace.get_tracer("other-lib")
        with instrumentors.session("s-9"), other.start_as_current_span("db.query"):
            pass
        handle.shutdown()
        (span,) = mine.get_finished_spans()
        assert span.attributes["agent.session_id"] == "s-9"  # our processor was added
        with other.start_as_current_span("after"):
            pass
        assert len(mine.get_finished_spans()) == 2  # the app's provider is not shut down
        assert out.getvalue() == ""
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_missing_otlp_exporters_fall_back_to_the_tree(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith('opentelemetry.exporter.otlp'):\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "PYTHONPATH": str(tmp_path)}
    result = run_agent(env)
    assert json.loads(result.stdout)["exporters"] == ["agent_tree"]
    assert "OTLP exporters are not installed" in result.stderr
    assert "execute_tool get_weather" in result.stderr


SETUP_TWICE = textwrap.dedent(
    """
    import json, sys, instrumentors
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    a = instrumentors.setup(exporter=first, span_processor="simple", instrument=False)
    again = json.loads(sys.argv[1])
    b = instrumentors.setup(
        exporter=second if again.pop("new_exporter") else first,
        span_processor="simple",
        instrument=False,
        **again,
    )

    @instrumentors.tool
    def ping() -> None:
        pass

    ping()
    print(json.dumps({"same": a is b, "first": len(first.get_finished_spans()),
                      "second": len(second.get_finished_spans())}))
    """
)


@pytest.mark.parametrize(
    ("again", "ignored"),
    [
        ({"new_exporter": True}, "exporter="),
        ({"new_exporter": False, "endpoint": "http://127.0.0.1:4318"}, "endpoint="),
        ({"new_exporter": True, "shutdown_timeout": 1}, "exporter=, shutdown_timeout="),
    ],
)
def test_setup_twice_with_other_arguments_warns_and_keeps_the_first(
    again: dict[str, object], ignored: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SETUP_TWICE, json.dumps(again)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert json.loads(result.stdout) == {"same": True, "first": 1, "second": 0}
    (warning,) = [line for line in result.stderr.splitlines() if "already called" in line]
    assert ignored in warning and "first setup() stays in effect" in warning


def test_setup_twice_with_the_same_arguments_is_silent() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SETUP_TWICE, json.dumps({"new_exporter": False})],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert json.loads(result.stdout) == {"same": True, "first": 1, "second": 0}
    assert result.stderr == ""


def test_a_bad_span_processor_argument_warns_and_batches() -> None:
    code = textwrap.dedent(
        """
        import instrumentors
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        memory = InMemorySpanExporter()
        handle = instrumentors.setup(exporter=memory, span_processor="fast", instrument=False)
        with instrumentors.agent_step("step"):
            pass
        queued = len(memory.get_finished_spans())  # batched: not exported yet
        handle.shutdown()
        print(queued, len(memory.get_finished_spans()))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["0", "1"]
    assert "span_processor='fast'" in result.stderr
