"""A known secret passed to tools never appears in any exported attribute or event."""

from __future__ import annotations

import pytest

import instrumentors

SECRET = "sk-live-0123456789abcdefghijklmnop"


def every_value(spans) -> list[str]:  # type: ignore[no-untyped-def]
    values = []
    for span in spans:
        values.append(span.name)
        values.extend(str(v) for v in (span.attributes or {}).values())
        for event in span.events:
            values.append(event.name)
            values.extend(str(v) for v in (event.attributes or {}).values())
    return values


@pytest.mark.parametrize("capture", ["false", "true", "SPAN_AND_EVENT"])
def test_secret_never_exported(exporter, settings_env, capture: str) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture)

    @instrumentors.tool
    def call_api(url: str, api_key: str, headers: dict, note: str) -> str:  # type: ignore[type-arg]
        if "fail" in url:
            raise PermissionError("denied")
        return "ok"

    with instrumentors.session("s"), instrumentors.agent_step("run"):
        call_api(
            "https://api.test/x", SECRET, {"Authorization": f"Bearer {SECRET}"}, f"key={SECRET}"
        )
        with pytest.raises(PermissionError):
            call_api("https://api.test/fail", api_key=SECRET, headers={}, note=SECRET)
        instrumentors.record_cache(hit=False, name="c", key={"api_key": SECRET})
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert not [v for v in every_value(spans) if SECRET in v]
