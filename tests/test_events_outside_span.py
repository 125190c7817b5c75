"""No silent no-ops: an event recorded by user code outside any span is warned about once per
site."""

from __future__ import annotations

import logging

import pytest
import tenacity
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import instrumentors
from instrumentors import events
from tests.conftest import SAMPLER


@pytest.fixture(autouse=True)
def _fresh_sites() -> None:
    events._warned_sites.clear()


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "instrumentors.events" and r.levelno == logging.WARNING
    ]


def test_one_warning_per_call_site(caplog, exporter) -> None:
    for _ in range(3):
        assert instrumentors.record_retry(attempt=1, delay_s=0.5) is False  # same site
    assert instrumentors.record_cache(hit=True, name="weather", key={"city": "Paris"}) is False
    first, second = warnings_in(caplog)
    assert "retry.attempted" in first and "test_events_outside_span.py:" in first
    assert "dropped" in first and "no span is active" in first
    assert "cache.hit" in second
    assert exporter.get_finished_spans() == ()


def test_inside_a_span_the_event_lands_without_a_warning(caplog, exporter) -> None:
    with instrumentors.agent("a"):
        assert instrumentors.record_retry(attempt=1, delay_s=0.5, error_type="TimeoutError")
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    assert event.name == "retry.attempted"
    assert warnings_in(caplog) == []


def test_an_unsampled_span_is_not_a_mistake(caplog, exporter, monkeypatch) -> None:
    monkeypatch.setattr(SAMPLER, "delegate", ALWAYS_OFF)
    with instrumentors.agent_step("unsampled"):
        assert instrumentors.record_retry(attempt=1) is False
    assert warnings_in(caplog) == []


def test_our_own_layers_never_warn(caplog, exporter) -> None:
    from instrumentors.tenacity import TenacityInstrumentor

    instrumentor = TenacityInstrumentor()
    instrumentor.instrument()
    try:
        calls = {"n": 0}

        @tenacity.retry(stop=tenacity.stop_after_attempt(2), wait=tenacity.wait_none())
        def flaky() -> str:
            calls["n"] += 1
            if calls["n"] == 1:
                raise TimeoutError
            return "ok"

        assert flaky() == "ok"  # retried outside any span: nothing to warn the user about
    finally:
        instrumentor.uninstrument()
    assert calls["n"] == 2
    assert warnings_in(caplog) == []
