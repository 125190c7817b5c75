"""Every non-public OpenTelemetry API name we rely on still exists (instrumentors/_compat.py).

When this fails after an OpenTelemetry upgrade, the named feature has fallen back
to its slower public route: move it to the new name or drop the shortcut.
"""

from __future__ import annotations

import importlib
import logging

import pytest
from opentelemetry import baggage
from opentelemetry.metrics import NoOpHistogram

from instrumentors import _compat


@pytest.mark.parametrize(("module", "path"), _compat.PRIVATE_NAMES)
def test_private_name_still_exists(module: str, path: str) -> None:
    target: object = importlib.import_module(module)
    for part in path.split("."):
        if part == "_real_instrument":  # an instance attribute: check on a live proxy
            proxy = importlib.import_module("opentelemetry.metrics._internal")
            target = proxy._ProxyMeterProvider().get_meter("t").create_histogram("h")
        assert hasattr(target, part), f"{module}.{path} is gone"
        target = getattr(target, part)


def test_baggage_value_reads_what_the_public_api_reads() -> None:
    context = baggage.set_baggage("agent.session_id", "s-1")
    assert _compat.baggage_value("agent.session_id", context) == "s-1"
    assert _compat.baggage_value("absent", context) is None


def test_fallbacks_when_a_name_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compat, "BAGGAGE_KEY", None)
    context = baggage.set_baggage("agent.session_id", "s-2")
    assert _compat.baggage_value("agent.session_id", context) == "s-2"  # the public route
    plain = NoOpHistogram("h")
    assert _compat.proxy_target(plain) is plain  # no proxy attribute: the instrument itself
    monkeypatch.setattr(_compat.importlib, "import_module", _raise_import_error)
    assert _compat.logs_api() is None


def _raise_import_error(name: str) -> object:
    raise ImportError(name)


@pytest.mark.parametrize("name", _compat.OTLP_LOGGERS)
def test_the_otlp_exporters_still_log_under_these_names(name: str) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    importlib.import_module(name)  # its module logger is created on import
    assert name in logging.Logger.manager.loggerDict, f"{name} logs under another name"
